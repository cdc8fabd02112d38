export { startGateway, type Gateway } from "./server.ts";
