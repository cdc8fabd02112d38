import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { validationError, errorMessage } from "../errors.ts";
import { isPrivateAddress } from "../net-guard.ts";

/**
 * Validate a webhook URL: http(s), and (unless private addresses are allowed) a host whose
 * every address is public. Throws a validation error on field `url`.
 */
export async function checkWebhookUrl(raw: string, opts: { allowPrivate: boolean }): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw validationError("invalid_url", `"${raw}" is not a URL`, "url");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw validationError("invalid_url", "must be an http:// or https:// URL", "url");
  if (url.username !== "" || url.password !== "") throw validationError("invalid_url", "must not carry credentials; the request is signed instead", "url");
  if (opts.allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = (await lookupAll(host)).map((a) => a.address);
    } catch (e) {
      throw validationError("unresolvable_url", `the host ${host} does not resolve: ${errorMessage(e)}`, "url");
    }
  }
  const bad = addresses.find(isPrivateAddress);
  if (bad !== undefined) {
    throw validationError("private_url", `${host} resolves to ${bad}, a private, loopback or link-local address; webhooks go to public addresses only (SLUICE_WEBHOOK_ALLOW_PRIVATE=1 to allow)`, "url");
  }
  return url;
}

/**
 * A `lookup` for sockets that refuses private addresses at connect time, so a host that
 * passed the check at registration cannot later be re-pointed inside (DNS rebinding).
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, "", 0);
    const list = addresses as unknown as LookupAddress[];
    const bad = list.find((a) => isPrivateAddress(a.address));
    if (bad !== undefined) {
      const e = Object.assign(new Error(`${hostname} resolves to the private address ${bad.address}; refused`), { code: "EPRIVATEADDRESS" });
      return callback(e, "", 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    const first = list[0];
    if (first === undefined) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
    callback(null, first.address, first.family);
  });
};


const lookupAll = (host: string): Promise<LookupAddress[]> =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));
