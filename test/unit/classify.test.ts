import { test } from "node:test";
import assert from "node:assert/strict";
import {
  classifyNetworkError,
  classifyReply,
  enhancedCodeOf,
  parseSmtpReply,
  suppressesAddress,
  type Category,
  type Outcome,
} from "../../protocol/index.ts";
import { failureOf } from "../../actors/smtp/sender.ts";

/**
 * Real replies as receivers send them (IP addresses and host names anonymised), with what
 * they mean. `t` marks a reply that must also cut the destination's rate. Rows marked
 * "meaning wins" are the ones where the basic code alone would give the wrong answer.
 */
type Row = [raw: string, outcome: Outcome, category: Category, throttle?: "t"];

const GMAIL: Row[] = [
  ["250 2.0.0 OK  1732550400 d2e1a72fcca58-7250d4f2a1csi1234567b3a.12 - gsmtp", "delivered", "delivered"],
  ["550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser - gsmtp", "bounce", "unknown_user"],
  ["550 5.2.1 The email account that you tried to reach is disabled. https://support.google.com/mail/?p=DisabledUser - gsmtp", "bounce", "unknown_user"],
  ["552-5.2.2 The email account that you tried to reach is over quota. Please direct\n552 5.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaPerm - gsmtp", "bounce", "mailbox_full"],
  ["452-4.2.2 The email account that you tried to reach is over quota. Please direct\n452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp", "retry", "mailbox_full"],
  ["450-4.2.1 The user you are trying to contact is receiving mail too quickly. Please\n450 4.2.1 resend your message at a later time. - gsmtp", "retry", "throttled"],
  ["421-4.7.0 Try again later, closing connection. (EHLO) - gsmtp", "retry", "throttled", "t"],
  ["421-4.7.28 [203.0.113.7      15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp", "retry", "throttled", "t"],
  ["550-5.7.1 [203.0.113.7      12] Our system has detected an unusual rate of\n550-5.7.1 unsolicited mail originating from your IP address. To protect our\n550 5.7.1 users from spam, mail sent from your IP address has been blocked. - gsmtp", "bounce", "spam_block"],
  ["550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. - gsmtp", "bounce", "policy_block"],
  ["550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's\n550 5.7.26 DMARC policy. - gsmtp", "bounce", "policy_block"],
  ["421-4.7.26 Your email has been rate limited because it is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. - gsmtp", "retry", "throttled", "t"],
  ["550-5.7.25 [203.0.113.7] The IP address sending this message does not have a\n550 5.7.25 PTR record setup, or the corresponding forward DNS entry does not point to the sending IP. - gsmtp", "bounce", "policy_block"],
  ["550-5.7.1 Messages missing a valid Message-ID header are not accepted. - gsmtp", "bounce", "protocol"],
  ["552-5.7.0 This message was blocked because its content presents a potential\n552 5.7.0 security issue. - gsmtp", "bounce", "spam_block"],
  ["552-5.3.4 Your message exceeded Google's message size limits. - gsmtp", "bounce", "message_too_large"],
  ["553-5.1.2 We weren't able to find the recipient domain. Please check for any\n553 5.1.2 spelling errors. - gsmtp", "bounce", "domain_not_found"],
  ["530 5.7.0 Must issue a STARTTLS command first. - gsmtp", "bounce", "tls_required"],
  ["451-4.3.0 Mail server temporarily rejected message. - gsmtp", "retry", "other"],
  // meaning wins: 5xx quotas on the sender are rate limits, retried later
  ["550 5.7.1 Daily SMTP relay limit exceeded for customer. - gsmtp", "retry", "throttled", "t"],
  ["550 5.4.5 Daily user sending limit exceeded. - gsmtp", "retry", "throttled", "t"],
  ["550 5.7.1 Email quota exceeded. - gsmtp", "retry", "throttled", "t"],
  ["554 5.6.0 Mail message is malformed. Not accepted. - gsmtp", "bounce", "protocol"],
  ["452 4.5.3 Your message has too many recipients. - gsmtp", "retry", "throttled", "t"],
];

const MICROSOFT: Row[] = [
  ["250 2.6.0 <abc@example.com> [InternalId=123, Hostname=AM0PR01MB1234.eurprd01.prod.exchangelabs.com] Queued mail for delivery", "delivered", "delivered"],
  ["550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [DB3EUR03FT012.eop-EUR03.prod.protection.outlook.com]", "bounce", "unknown_user"],
  ["550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "bounce", "unknown_user"],
  // meaning wins: 5.4.1 is a network code, Exchange Online uses it for "no such recipient"
  ["550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BN8NAM11FT012.eop-nam11.prod.protection.outlook.com]", "bounce", "unknown_user"],
  ["550 5.7.1 Unfortunately, messages from [203.0.113.7] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", "bounce", "spam_block"],
  ["451 4.7.500 Server busy. Please try again later from [203.0.113.7]. (S77719) [DB5EUR03FT045.eop-EUR03.prod.protection.outlook.com]", "retry", "throttled", "t"],
  ["421 RP-001 (BAY004-MC1F15) Unfortunately, some messages from 203.0.113.7 weren't sent. Please try again. We have limits for how many messages can be sent per hour and per day.", "retry", "throttled", "t"],
  ["550 SC-001 (BAY004-MC5F5) Unfortunately, messages from 203.0.113.7 weren't sent. Please contact your Internet service provider. You can tell them that Hotmail does not relay dynamically-assigned IP ranges.", "bounce", "policy_block"],
  ["550 5.7.606 Access denied, banned sending IP [203.0.113.7]. To request removal from this list please visit https://sender.office.com/ and follow the directions.", "bounce", "spam_block"],
  ["550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.", "bounce", "spam_block"],
  // meaning wins: a 5.2.x "limit per hour" on the recipient is a rate limit, not a dead mailbox
  ["554 5.2.122 The recipient has exceeded their limit for the number of messages they can receive per hour.", "retry", "throttled"],
  ["550 5.2.121 The recipient's per-hour message receive limit from specific sender has been exceeded.", "retry", "throttled"],
  // meaning wins: 5.7.x / 5.2.0 about "too many" and submission quotas are rate limits
  ["550 5.7.1 Too many messages sent from your account in a short period, please try again later.", "retry", "throttled", "t"],
  ["554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message.", "retry", "throttled", "t"],
  ["550 5.1.90 Your message can't be sent because you've reached your daily limit for message recipients.", "retry", "throttled", "t"],
  ["452 4.3.1 Insufficient system resources (UsedDiskSpace[C:\\Program Files\\Microsoft\\Exchange Server\\V15\\TransportRoles\\data\\Queue])", "retry", "other"],
  ["550 5.7.520 Access denied, Your organization does not allow external forwarding. Please contact your administrator for further assistance. AS(7555)", "bounce", "policy_block"],
  ["550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.", "bounce", "policy_block"],
  ["554 5.4.14 Hop count exceeded - possible mail loop ATTR34", "bounce", "other"],
  ["554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded", "bounce", "mailbox_full"],
  ["550 5.4.310 DNS domain example.invalid does not exist [Message=InfoDomainNonexistent]", "bounce", "domain_not_found"],
  ["451 4.7.650 The mail server [203.0.113.7] has been temporarily rate limited due to IP reputation.", "retry", "throttled", "t"],
  ["550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains.", "bounce", "policy_block"],
];

const YAHOO_AOL: Row[] = [
  ["421 4.7.0 [TSS04] Messages from 203.0.113.7 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", "retry", "throttled", "t"],
  // meaning wins: a 4xx that says it is permanent
  ["421 4.7.1 [TS03] All messages from 203.0.113.7 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes", "bounce", "spam_block"],
  ["421 4.7.0 [TSS09] All messages from 203.0.113.7 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes", "bounce", "spam_block"],
  ["554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes", "bounce", "policy_block"],
  ["554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta4321.mail.gq1.yahoo.com", "bounce", "unknown_user"],
  ["554 delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. This mailbox is disabled (554.30). - mta1234.mail.ne1.yahoo.com", "bounce", "unknown_user"],
  // meaning wins: 552 is "exceeded storage allocation" in RFC 5321, Yahoo uses it for "no such mailbox"
  ["552 1 Requested mail action aborted, mailbox not found", "bounce", "unknown_user"],
  ["553 5.7.1 [BL21] Connections will not be accepted from 203.0.113.7, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes", "bounce", "spam_block"],
  ["451 Message temporarily deferred due to user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", "retry", "throttled", "t"],
  ["521 5.2.1 :  AOL will not accept delivery of this message.", "bounce", "policy_block"],
];

const APPLE: Row[] = [
  ["550 5.1.1 <someone@icloud.com>: user does not exist", "bounce", "unknown_user"],
  ["554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137", "bounce", "policy_block"],
  ["552 5.2.2 <someone@icloud.com>: user is over quota", "bounce", "mailbox_full"],
  ["421 4.7.1 [CS04] Message rejected due to local policy. Please try again later.", "retry", "policy_block"],
  ["554 5.7.1 [HM08] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137", "bounce", "policy_block"],
];

const COMCAST: Row[] = [
  ["554 resimta-ch2-18v.sys.comcast.net resimta-ch2-18v.sys.comcast.net 203.0.113.7 found on one or more DNSBLs, see http://postmaster.comcast.net/smtp-error-codes.php#BL000001", "bounce", "spam_block"],
  ["421 4.7.0 Too many sessions opened", "retry", "throttled", "t"],
  ["550 5.1.1 Not our Customer", "bounce", "unknown_user"],
  ["421 resimta-po-04v.sys.comcast.net comcast 203.0.113.7 Comcast requires that all mail servers must have a PTR record with a valid Reverse DNS entry. Currently your mail server does not fit these requirements. For more information, refer to: http://postmaster.comcast.net/smtp-error-codes.php#RL000001", "retry", "policy_block"],
  ["554 5.7.1 resimta-ch2-18v.sys.comcast.net Comcast block for spam.  Please see http://postmaster.comcast.net/smtp-error-codes.php#BL000000", "bounce", "spam_block"],
];

const GMX_WEBDE: Row[] = [
  ["554-gmx.net (mxgmx016) Nemesis ESMTP Service not available\n554-No SMTP service\n554-Bad DNS PTR resource record.\n554 For explanation visit https://www.gmx.net/mail/senderguidelines?c=pr", "bounce", "policy_block"],
  ["550 Requested action not taken: mailbox unavailable", "bounce", "unknown_user"],
  ["554-web.de (mxweb110) Nemesis ESMTP Service not available\n554-No SMTP service\n554-IP address is block listed.\n554 For explanation visit https://web.de/email/senderguidelines?ip=203.0.113.7&c=bl", "bounce", "spam_block"],
  ["421-gmx.net (mxgmx116) Nemesis ESMTP Service not available\n421-Service unavailable\n421-Reject due to policy restrictions.\n421 For explanation visit https://www.gmx.net/mail/senderguidelines?c=rl", "retry", "policy_block"],
  ["554 Transaction failed\nReject due to content restrictions.", "bounce", "spam_block"],
];

const MIMECAST: Row[] = [
  ["550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [aBcDeFgHiJ.us123]", "bounce", "unknown_user"],
  ["550 Rejected by header based Anti-Spoofing policy: someone@example.com - https://community.mimecast.com/docs/DOC-1369#550", "bounce", "policy_block"],
  ["451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451", "retry", "other"],
  ["550 Envelope blocked - User Entry - https://community.mimecast.com/docs/DOC-1369#550", "bounce", "policy_block"],
  ["554 Email rejected due to security policies - https://community.mimecast.com/docs/DOC-1369#554", "bounce", "policy_block"],
  ["451 4.7.1 Greylisting in action, please come back later - https://community.mimecast.com/docs/DOC-1369#451", "retry", "other"],
];

const PROOFPOINT_BARRACUDA: Row[] = [
  ["554 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.7", "bounce", "spam_block"],
  ["550 5.7.0 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=203.0.113.7", "bounce", "spam_block"],
  ["550 5.1.1 User Unknown", "bounce", "unknown_user"],
  ["421 Too many concurrent SMTP connections; please try again later.", "retry", "throttled", "t"],
  ["571 Delivery not authorized, message refused", "bounce", "policy_block"],
  ["550 5.7.1 Message blocked due to spam content in the message.", "bounce", "spam_block"],
  ["554 Service unavailable; Client host [203.0.113.7] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?r=1&ip=203.0.113.7", "bounce", "spam_block"],
];

const POSTFIX: Row[] = [
  ["250 2.0.0 Ok: queued as 4ZB2x93mG1z9sWQ", "delivered", "delivered"],
  ["550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table", "bounce", "unknown_user"],
  ["550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table", "bounce", "unknown_user"],
  // meaning wins: Postfix run with a 4xx unknown-user code still says the user does not exist
  ["450 4.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table", "bounce", "unknown_user"],
  ["450 4.1.1 <nobody@example.com>: Recipient address rejected: unverified address: host mx.example.com[198.51.100.2] said: 450 4.2.0 temporarily unavailable", "retry", "other"],
  ["450 4.1.2 <someone@nowhere.example>: Recipient address rejected: Domain not found", "retry", "domain_not_found"],
  ["554 5.7.1 <someone@elsewhere.example>: Relay access denied", "bounce", "policy_block"],
  // meaning wins: a 4.7.x that is not a rate limit (the old rule throttled every 4.7.x)
  ["450 4.7.1 Client host rejected: cannot find your hostname, [203.0.113.7]", "retry", "policy_block"],
  ["554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.7", "bounce", "spam_block"],
  ["552 5.3.4 Message size exceeds fixed limit", "bounce", "message_too_large"],
  ["450 4.2.0 <someone@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html", "retry", "other"],
  ["421 4.3.2 System shutting down", "retry", "other"],
  ["452 4.3.1 Insufficient system storage", "retry", "other"],
  ["504 5.5.2 <someone>: Sender address rejected: need fully-qualified address", "bounce", "policy_block"],
  ["500 5.5.2 Error: command not recognized", "bounce", "protocol"],
  ["421 4.4.2 mx.example.com Error: timeout exceeded", "retry", "network"],
  ["421 4.7.0 mx.example.com Error: too many connections from 203.0.113.7", "retry", "throttled", "t"],
  ["452 4.5.3 Error: too many recipients", "retry", "throttled", "t"],
  ["454 4.7.0 TLS not available due to local problem", "retry", "tls_required"],
  ["530 5.7.0 Must issue a STARTTLS command first", "bounce", "tls_required"],
  ["552 5.2.2 <someone@example.com> Quota exceeded (mailbox for user is full)", "bounce", "mailbox_full"],
  ["452 4.2.2 <someone@example.com> Quota exceeded (mailbox for user is full)", "retry", "mailbox_full"],
];

const EXIM: Row[] = [
  ["250 OK id=1tFkQe-00Abc1-2x", "delivered", "delivered"],
  ["550 Unrouteable address", "bounce", "unknown_user"],
  ["550 No Such User Here", "bounce", "unknown_user"],
  ["451 Temporary local problem - please try later", "retry", "other"],
  // about our sender, not the recipient, although it says "Unrouteable address"
  ["550-Verification failed for <bounce@sender.example>\n550-Unrouteable address\n550 Sender verify failed", "bounce", "policy_block"],
  ["552 Message size limit exceeded", "bounce", "message_too_large"],
  ["421 mx.example.com lost input connection", "retry", "network"],
  ["550 Administrative prohibition", "bounce", "policy_block"],
  ["550 rejected because 203.0.113.7 is in a black list at zen.spamhaus.org", "bounce", "spam_block"],
  // meaning wins: the RFC 5321 text of 552 is a full mailbox
  ["552 Requested mail action aborted: exceeded storage allocation", "bounce", "mailbox_full"],
  ["550 5.1.1 <someone@example.com>: Recipient address rejected: User unknown in relay recipient table", "bounce", "unknown_user"],
  ["451 4.7.1 Please try again later", "retry", "throttled", "t"],
  // anvil: smtpd_client_connection_count_limit (at the greeting) and smtpd_client_message_rate_limit
  ["421 4.7.0 mx.example.com Error: too many connections from 203.0.113.7", "retry", "throttled", "t"],
  ["450 4.7.1 Error: too much mail from 203.0.113.7", "retry", "throttled", "t"],
  ["421 4.7.0 mx.example.com Error: too many connections from 203.0.113.7", "retry", "throttled", "t"],
];

/** Throttling wordings of the big receivers and common MTAs: each must slow the destination down, none is a bounce. */
const THROTTLING: Row[] = [
  ["421-4.7.28 [203.0.113.7      15] Gmail has detected an unusual rate of mail originating\n421-4.7.28 from your IP address. To protect our users from spam, mail sent from your IP\n421 4.7.28 address has been temporarily blocked. - gsmtp", "retry", "throttled", "t"],
  ["421 4.7.0 [TSS04] Messages from 203.0.113.7 temporarily deferred; see https://postmaster.yahooinc.com/error-codes", "retry", "throttled", "t"],
  ["421 4.7.500 Server busy, closing transmission channel. Please try again later. (S77719) [AM0PR01MB1234.eurprd01.prod.exchangelabs.com]", "retry", "throttled", "t"],
  ["451 4.7.1 Sender rate limit exceeded, try again later", "retry", "throttled", "t"],
  ["450 4.7.1 Rate limit exceeded. Please slow down", "retry", "throttled", "t"],
  ["421 4.7.0 Too many concurrent SMTP connections from this IP address; please try again later", "retry", "throttled", "t"],
  ["421 Too many connections from your host", "retry", "throttled", "t"],
  ["451 Try again later", "retry", "other"],
];

const TABLE: [string, Row[]][] = [
  ["Gmail", GMAIL],
  ["Microsoft", MICROSOFT],
  ["Yahoo/AOL", YAHOO_AOL],
  ["Apple iCloud", APPLE],
  ["Comcast", COMCAST],
  ["GMX/web.de", GMX_WEBDE],
  ["Mimecast", MIMECAST],
  ["Proofpoint/Barracuda", PROOFPOINT_BARRACUDA],
  ["Postfix", POSTFIX],
  ["Exim", EXIM],
  ["Throttling", THROTTLING],
];

test("the table holds at least 60 real replies", () => {
  const rows = TABLE.reduce((n, [, rows]) => n + rows.length, 0);
  assert.ok(rows >= 60, `only ${rows} rows`);
});

for (const [provider, rows] of TABLE) {
  test(`${provider} replies are classified by what they mean`, () => {
    for (const [raw, outcome, category, throttle] of rows) {
      // The production path: nodemailer's error (code + raw response) through the sender.
      const got = failureOf(Object.assign(new Error(raw), { responseCode: Number(raw.slice(0, 3)), response: raw }), "mx.test", 1).classification;
      assert.deepEqual(
        got,
        { outcome, category, throttle: throttle === "t" },
        `${raw.slice(0, 90)}…\n  expected ${outcome}/${category}${throttle ? "/throttle" : ""}, got ${got.outcome}/${got.category}${got.throttle ? "/throttle" : ""}`,
      );
    }
  });
}

test("raw multi-line replies are parsed into code, enhanced code and text", () => {
  const r = parseSmtpReply("550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550 5.1.1 double-checking. - gsmtp");
  assert.equal(r.code, 550);
  assert.equal(r.enhanced, "5.1.1");
  assert.equal(r.text, "The email account that you tried to reach does not exist. Please try double-checking. - gsmtp");
  assert.deepEqual(parseSmtpReply("554 delivery error: dd nope"), { code: 554, text: "delivery error: dd nope" });
});

test("one parser for every reply: fallback code, enhanced code out of the text, continuation prefixes gone", () => {
  assert.deepEqual(parseSmtpReply("550 5.1.1 <x@y>: user unknown"), { code: 550, enhanced: "5.1.1", text: "<x@y>: user unknown" });
  assert.deepEqual(parseSmtpReply("421-4.7.0 Try again\n421 4.7.0 later"), { code: 421, enhanced: "4.7.0", text: "Try again later" });
  assert.deepEqual(parseSmtpReply("OK", 250), { code: 250, text: "OK" });
  assert.deepEqual(parseSmtpReply("250 2.0.0 Ok: queued as 4ZB2x93mG1z9sWQ", 250), { code: 250, enhanced: "2.0.0", text: "Ok: queued as 4ZB2x93mG1z9sWQ" });
});

test("a 421 at the greeting is a refusal for concurrency whatever its words; a rate refusal is about the rate", () => {
  const greeting = failureOf(Object.assign(new Error("x"), { responseCode: 421, response: "421 mx.example.com Service not available", atGreeting: true }), "mx.test", 3);
  assert.deepEqual(greeting.classification, { outcome: "retry", category: "throttled", throttle: true });
  assert.equal(greeting.limit, "connections");
  assert.equal(greeting.working, 3);
  const rate = failureOf(Object.assign(new Error("x"), { responseCode: 450, response: "450 4.7.1 Error: too much mail from 127.0.0.1" }), "mx.test", 3);
  assert.equal(rate.limit, "rate");
  const refused = failureOf(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:25"), { code: "ESOCKET", atGreeting: true }), "mx.test", 0);
  assert.deepEqual(refused.classification, { outcome: "retry", category: "network", throttle: false });
  assert.equal(refused.limit, undefined);
});

test("enhanced status codes are read from the reply text", () => {
  assert.equal(enhancedCodeOf("5.1.1 The email account does not exist"), "5.1.1");
  assert.equal(enhancedCodeOf("550-5.7.26 Unauthenticated"), "5.7.26");
  assert.equal(enhancedCodeOf("Try again later"), undefined);
});

test("replies with no recognisable wording fall back to the codes", () => {
  assert.deepEqual(classifyReply({ code: 550, text: "5.1.1 xyz" }), { outcome: "bounce", category: "unknown_user", throttle: false });
  assert.deepEqual(classifyReply({ code: 550, enhanced: "5.1.2", text: "xyz" }), { outcome: "bounce", category: "domain_not_found", throttle: false });
  assert.deepEqual(classifyReply({ code: 451, text: "4.7.0 xyz" }), { outcome: "retry", category: "throttled", throttle: true });
  assert.deepEqual(classifyReply({ code: 421, text: "xyz" }), { outcome: "retry", category: "throttled", throttle: true });
  assert.deepEqual(classifyReply({ code: 554, text: "5.3.4 xyz" }), { outcome: "bounce", category: "message_too_large", throttle: false });
  assert.deepEqual(classifyReply({ code: 451, text: "xyz" }), { outcome: "retry", category: "other", throttle: false });
  assert.deepEqual(classifyReply({ code: 0, text: "" }), { outcome: "retry", category: "protocol", throttle: false });
  assert.deepEqual(classifyReply({ code: 354, text: "go ahead" }), { outcome: "retry", category: "protocol", throttle: false });
});

test("only a bad address is suppressed, not a full mailbox or a blocked sender", () => {
  const cls = (raw: string) => classifyReply(parseSmtpReply(raw));
  assert.equal(suppressesAddress(cls("550 5.1.1 User Unknown")), true);
  assert.equal(suppressesAddress(cls("553 5.1.2 We weren't able to find the recipient domain.")), true);
  assert.equal(suppressesAddress(cls("552 5.2.2 <a@b> user is over quota")), false);
  assert.equal(suppressesAddress(cls("554 5.7.1 Service unavailable; Client host [1.2.3.4] blocked using zen.spamhaus.org")), false);
  assert.equal(suppressesAddress(cls("450 4.1.2 <a@b>: Recipient address rejected: Domain not found")), false);
});

test("connection failures are retried, a domain that cannot receive mail is not", () => {
  const rows: [{ code?: string; message: string }, Outcome, Category][] = [
    [{ code: "ECONNREFUSED", message: "connect ECONNREFUSED 198.51.100.2:25" }, "retry", "network"],
    [{ code: "ETIMEDOUT", message: "Connection timeout" }, "retry", "network"],
    [{ code: "ECONNRESET", message: "read ECONNRESET" }, "retry", "network"],
    [{ code: "EAI_AGAIN", message: "queryMx EAI_AGAIN example.com" }, "retry", "network"],
    [{ code: "ESERVFAIL", message: "queryMx ESERVFAIL example.com" }, "retry", "network"],
    [{ code: "ENOTFOUND", message: "queryMx ENOTFOUND nowhere.example" }, "bounce", "domain_not_found"],
    [{ code: "ENODATA", message: "queryMx ENODATA example.com" }, "bounce", "domain_not_found"],
    [{ message: "example.com has a null MX (RFC 7505): domain does not accept mail" }, "bounce", "domain_not_found"],
    [{ code: "ETLS", message: "Error initiating TLS - unable to verify the first certificate" }, "retry", "tls_required"],
    [{ code: "EPROTOCOL", message: "Invalid greeting" }, "retry", "protocol"],
  ];
  for (const [error, outcome, category] of rows) {
    assert.deepEqual(classifyNetworkError(error), { outcome, category, throttle: false }, error.message);
  }
});
