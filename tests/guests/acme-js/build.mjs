// Makes connector.js a component of the connector world (run by tests/build.rs):
// node build.mjs <connector.js> <wit dir> <out.wasm>
import { componentize } from "@bytecodealliance/componentize-js";
import { readFile, writeFile } from "node:fs/promises";
const [src, wit, out] = process.argv.slice(2);
const { component } = await componentize(await readFile(src, "utf8"), {
  witPath: wit,
  worldName: "door:connector/pms-connector@1.0.0",
  disableFeatures: ["random", "stdio", "clocks"],
});
await writeFile(out, component);
console.log(`${out}: ${component.length} bytes`);
