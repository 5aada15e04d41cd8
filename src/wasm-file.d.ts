// A .wasm file imported `with { type: "file" }`: Bun gives its path (inside the compiled binary, a
// path in its embedded file system).
declare module "*.wasm" {
  const path: string;
  export default path;
}
