export { Simulator, simulatedSuppression, type SimulatorDeps } from "./simulator.ts";
