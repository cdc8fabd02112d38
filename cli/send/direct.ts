import { validationError, type TierName } from "../../protocol/index.ts";
import type { SendSummary } from "./summary.ts";

export interface DirectSend {
  content: { from: string; subject: string; text?: string; html?: string };
  tier: TierName;
  to: string[];
  csvFile: string | undefined;
  tenant: string;
  chunk: number;
}

/** Publishing straight to NATS goes through the producer SDK (protocol/sdk.ts). */
export async function sendDirect(_req: DirectSend): Promise<SendSummary> {
  throw validationError("not_available", "--direct needs the producer SDK, which this build does not have yet; send through the gateway");
}
