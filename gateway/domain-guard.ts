import type { KV } from "@nats-io/kv";
import { type Config } from "../protocol/index.ts";
import { dnsResolver, VerifiedSenders, type DomainServiceDeps, type SluiceResolver } from "../protocol/io/index.ts";

/**
 * The gateway's one place for sender domains: the resolver verification uses
 * (SLUICE_DNS_SERVERS) and the verified-sender rule. With SLUICE_REQUIRE_VERIFIED_DOMAINS
 * on (the production default) a message or batch whose `from` domain the caller's tenant
 * has not verified is refused with 403 domain_not_verified; the answer is cached per
 * domain for a few seconds, so a send costs no KV read.
 */
export class SenderDomains {
  readonly dns: SluiceResolver;
  readonly #senders: VerifiedSenders;

  constructor(
    private readonly config: Config,
    private readonly kv: () => Promise<KV>,
  ) {
    this.dns = dnsResolver(config.domains.dnsServers);
    this.#senders = new VerifiedSenders(kv);
  }

  /** Throws domain_not_verified (403) when the rule is on and `tenant` does not own the domain of `from`. */
  async requireVerified(tenant: string, from: string): Promise<void> {
    if (!this.config.domains.requireVerified) return;
    await this.#senders.check(tenant, from);
  }

  /** A verify or remove through this gateway shows at once here. */
  changed(domain: string): void {
    this.#senders.forget(domain);
  }

  async service(): Promise<DomainServiceDeps> {
    const d = this.config.domains;
    return { kv: await this.kv(), dns: this.dns, settings: { secretKey: d.secretKey, spf: d.spf, inboundHost: d.inboundHost, rotationGraceMs: d.rotationGraceMs } };
  }
}
