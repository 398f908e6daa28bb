// Types of bundle.cjs, for the TypeScript that calls it (tests, the harness).
export interface BundleOptions {
  /** An executable host program: shebang, mode 0755, a linked source map. */
  readonly program?: boolean;
  /** A program's first lines instead of `#!/usr/bin/env node`. */
  readonly shebang?: string;
  readonly minify?: boolean;
  /** Packages left out of the bundle besides koffi. */
  readonly external?: readonly string[];
  /** The program is a loader of `<out>.js` and `<out>.js.cache`, V8's code cache made at build time. */
  readonly codeCache?: boolean;
  /** The program's Node flags, which V8's code cache must be made with. */
  readonly nodeFlags?: readonly string[];
}
export interface BundleTarget extends BundleOptions {
  readonly entry: string;
  readonly out: string;
}
export declare const TARGETS: Readonly<Record<string, BundleTarget>>;
export declare const DEFAULT_TARGETS: readonly string[];
export declare function bundleSync(entry: string, outfile: string, options?: BundleOptions): string;
export declare function bundleTarget(name: string): string;
