import { z } from "zod";
import { CreateDomainRequest, DOMAIN_STATUSES, RECORD_PURPOSES } from "../../protocol/index.ts";

/** OpenAPI for /v1/domains, beside its routes; openapi.ts spreads it into the document. */

const errorRef = { content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
const err = (description: string) => ({ description, ...errorRef });
const common = {
  "401": err("missing, unknown or revoked API key"),
  "403": err("the key lacks the scope (read for GET, admin for the rest)"),
  "503": err("NATS unreachable; see Retry-After"),
};
const domainParam = { name: "domain", in: "path", required: true, schema: { type: "string" }, description: "the domain (any case, IDN or A-label)" };

const DomainRecord = {
  type: "object",
  properties: {
    type: { type: "string", enum: ["TXT", "MX"] },
    name: { type: "string" },
    value: { type: "string", description: "TXT: the whole text; MX: the exchange host" },
    purpose: { type: "string", enum: [...RECORD_PURPOSES] },
    required: { type: "boolean", description: "verification waits for this record (the active DKIM key's; a rotated-in key's to switch)" },
    selector: { type: "string" },
    strings: { type: "array", items: { type: "string" }, description: "TXT: the value as DNS character-strings of at most 255 bytes" },
    priority: { type: "integer" },
    zone: { type: "string", description: "the record as a zone-file line" },
    status: { type: "string", enum: ["ok", "missing", "unchecked"] },
    found: { type: "array", items: { type: "string" }, description: "what DNS answered at that name on the last check" },
    problem: { type: "string" },
  },
};

const Domain = {
  type: "object",
  description: "A sender domain. Private keys are never returned.",
  properties: {
    domain: { type: "string" },
    status: { type: "string", enum: [...DOMAIN_STATUSES], description: "verified once the active DKIM record carries the key; failed when a verified domain's record disappears (mail from it is then refused 403)" },
    selector: { type: "string", description: "the DKIM selector that signs" },
    records: { type: "array", items: DomainRecord },
    missing: { type: "array", items: { type: "string" }, description: "purposes (dkim:<selector>, spf, dmarc, return_path, return_path_spf) not found on the last check" },
    createdAt: { type: "integer" },
    verifiedAt: { type: "integer" },
    checkedAt: { type: "integer" },
    reason: { type: "string" },
  },
};
const domainBody = { content: { "application/json": { schema: Domain } } };

export function domainOpenApiPaths(): Record<string, unknown> {
  return {
    "/v1/domains": {
      post: {
        summary: "Add a sender domain: answers the DNS records to publish (DKIM, SPF, DMARC, return-path MX)",
        requestBody: {
          required: true,
          content: { "application/json": { schema: z.toJSONSchema(CreateDomainRequest, { io: "input", unrepresentable: "any", target: "openapi-3.0" }) } },
        },
        responses: {
          "201": { description: "added, pending until verified", ...domainBody },
          "400": err("not a domain, or dkim.privateKey is not an RSA key of 1024-4096 bits"),
          "409": err("domain_taken: another tenant has it verified; domain_exists: already added"),
          ...common,
        },
      },
      get: {
        summary: "The caller's sender domains, their state and missing records",
        responses: { "200": { description: "domains", content: { "application/json": { schema: { type: "object", properties: { domains: { type: "array", items: Domain } } } } } }, ...common },
      },
    },
    "/v1/domains/{domain}": {
      get: { summary: "One sender domain with each record's check result", parameters: [domainParam], responses: { "200": { description: "the domain", ...domainBody }, "404": err("no such domain for this tenant"), ...common } },
      delete: { summary: "Remove a sender domain (its key is deleted; mail from it is refused)", parameters: [domainParam], responses: { "204": { description: "removed" }, "404": err("no such domain for this tenant"), ...common } },
    },
    "/v1/domains/{domain}/verify": {
      post: {
        summary: "Look the records up in DNS now (SLUICE_DNS_SERVERS) and store the outcome",
        parameters: [domainParam],
        responses: { "200": { description: "checked: see status and records[].status", ...domainBody }, "404": err("no such domain for this tenant"), "409": err("domain_taken: the records are in place but another tenant has the domain verified"), ...common },
      },
    },
    "/v1/domains/{domain}/rotate-dkim": {
      post: {
        summary: "New DKIM key under a new selector, published beside the active one; it signs once verify sees it, and the old one retires after SLUICE_DKIM_ROTATION_GRACE",
        parameters: [domainParam],
        responses: { "200": { description: "rotated: publish the new dkim record, then verify", ...domainBody }, "404": err("no such domain for this tenant"), ...common },
      },
    },
  };
}
