export { startNode, type ActorNode } from "./node.ts";
