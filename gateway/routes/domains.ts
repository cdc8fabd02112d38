import type { FastifyInstance } from "fastify";
import {
  check,
  CreateDomainRequest,
  domainView,
  SenderDomain,
  SluiceError,
  type DomainEntry,
} from "../../protocol/index.ts";
import {
  addDomain,
  getDomain,
  listDomains,
  removeDomain,
  rotateDkim,
  verifyDomain,
} from "../../protocol/io/index.ts";
import type { GatewayContext } from "../context.ts";
import { callerOf } from "./caller.ts";

/**
 * /v1/domains: the caller's sender domains. Adding one answers the DNS records to publish
 * (DKIM with a key Sluice generates or the tenant uploads, SPF, DMARC, the return-path MX);
 * verify looks them up now; rotate-dkim adds a new selector beside the active one.
 * Private keys never leave Sluice.
 */
export function domainRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const view = (e: DomainEntry) => domainView(e, ctx.config.domains);
  const domainParam = (params: unknown): string => {
    const raw = (params as { domain?: string }).domain ?? "";
    const parsed = check(SenderDomain, raw, "domain");
    if (!parsed.ok) throw parsed.error;
    return parsed.value;
  };

  app.post("/v1/domains", async (request, reply) => {
    const { tenant } = callerOf(request, "admin");
    const body = check(CreateDomainRequest, request.body ?? {}, "domain request");
    if (!body.ok) throw body.error;
    const entry = await addDomain(await ctx.domains.service(), tenant, body.value);
    return reply.code(201).send(view(entry));
  });

  app.get("/v1/domains", async (request) => {
    const { tenant } = callerOf(request, "read");
    return { domains: (await listDomains((await ctx.deps()).domains, tenant)).map(view) };
  });

  app.get("/v1/domains/:domain", async (request) => {
    const { tenant } = callerOf(request, "read");
    return view(await getDomain((await ctx.deps()).domains, tenant, domainParam(request.params)));
  });

  app.post("/v1/domains/:domain/verify", async (request) => {
    const { tenant } = callerOf(request, "admin");
    const domain = domainParam(request.params);
    const outcome = await verifyDomain(await ctx.domains.service(), tenant, domain);
    ctx.domains.changed(domain);
    if (outcome.taken) {
      throw new SluiceError("validation", "domain_taken", `${domain}: the records are in place, but another tenant has the domain verified; a domain is verified by one tenant at a time`, { field: "domain" });
    }
    return view(outcome.entry);
  });

  app.post("/v1/domains/:domain/rotate-dkim", async (request) => {
    const { tenant } = callerOf(request, "admin");
    return view(await rotateDkim(await ctx.domains.service(), tenant, domainParam(request.params)));
  });

  app.delete("/v1/domains/:domain", async (request, reply) => {
    const { tenant } = callerOf(request, "admin");
    const domain = domainParam(request.params);
    await removeDomain((await ctx.deps()).domains, tenant, domain);
    ctx.domains.changed(domain);
    return reply.code(204).send();
  });
}
