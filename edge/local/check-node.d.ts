/** Why this Node cannot run edgegate, or `undefined` when it can (see check-node.js). */
export declare function nodeProblem(version: string, range: string | undefined): string | undefined
