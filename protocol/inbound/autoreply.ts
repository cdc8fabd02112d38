/**
 * RFC 3834 automatic responses (vacation, out of office, "thank you for your message"): they
 * are not bounces and not complaints, and must not be read as either. A bounce carries
 * `Auto-Submitted: auto-replied` too, so this is asked only after the bounce checks.
 */
type HeaderGet = (name: string) => string | undefined;

const SUBJECT = /^\s*(auto(matic)?[ -]?(reply|response|antwort)|autoreply|out of (the )?office|ooo\b|vacation|on vacation|away from (the|my) (office|desk)|abwesenheit|r[ée]ponse automatique|absence|respuesta autom[aá]tica|risposta automatica|i am (currently )?(out|away))/i;

export function isAutoReply(get: HeaderGet, subject: string | undefined): boolean {
  const auto = get("auto-submitted");
  if (auto !== undefined && /^auto-replied/i.test(auto.trim())) return true;
  if (get("x-autoreply") !== undefined || get("x-autorespond") !== undefined || get("x-autoresponder") !== undefined) return true;
  const precedence = get("precedence") ?? get("x-precedence");
  if (precedence !== undefined && /auto[_-]?reply/i.test(precedence)) return true;
  if (get("x-auto-response-suppress") !== undefined && subject !== undefined && SUBJECT.test(subject)) return true;
  return subject !== undefined && SUBJECT.test(subject.replace(/^(re|aw|fwd?):\s*/i, ""));
}
