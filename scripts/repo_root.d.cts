export declare function repoRoot(from?: string): string;
