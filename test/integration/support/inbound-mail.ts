import nodemailer from "nodemailer";

/** Send raw mail to Sluice's inbound SMTP server, as a remote MTA or a feedback loop would. */
export async function sendToInbound(port: number, rcpt: string, raw: string): Promise<void> {
  const t = nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true });
  try {
    await t.sendMail({ envelope: { from: "", to: [rcpt] }, raw });
  } finally {
    t.close();
  }
}

/** A remote MTA's DSN (RFC 3464) that `rcpt` does not exist: a hard bounce. */
export function hardBounceDsn(rcpt: string): string {
  return [
    "From: MAILER-DAEMON@mx.example.test",
    "To: bounce@example.test",
    "Subject: Undelivered Mail Returned to Sender",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    "",
    "--b",
    "Content-Type: text/plain",
    "",
    "I'm sorry to have to inform you that your message could not be delivered.",
    "--b",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.example.test",
    "",
    `Final-Recipient: rfc822; ${rcpt}`,
    "Action: failed",
    "Status: 5.1.1",
    "Diagnostic-Code: smtp; 550 5.1.1 User unknown",
    "",
    "--b",
    "Content-Type: text/rfc822-headers",
    "",
    "Return-Path: <x@example.test>",
    "Subject: Hello",
    "--b--",
    "",
  ].join("\r\n");
}
