/** Resolve after `stop` ran on the first SIGINT/SIGTERM (restores the terminal on Ctrl-C). */
export function onShutdownSimple(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const handler = (): void => {
      stop().then(resolve, resolve);
    };
    process.once("SIGINT", handler);
    process.once("SIGTERM", handler);
  });
}
