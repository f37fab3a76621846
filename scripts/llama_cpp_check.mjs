// Runs a GGUF file in llama.cpp itself (node-llama-cpp's prebuilt binaries)
// and prints, as one JSON object, what qtune's tests compare with qtune:
//   tokens      llama.cpp's tokenization of --text (BOS included when the
//               file says add_bos_token)
//   top1        at each position, the token llama.cpp's logits rank first,
//               and its probability and the runner-up's (to see near ties)
//   greedy      --greedy N tokens continued greedily from the text
//
//   node scripts/llama_cpp_check.mjs --model FILE.gguf --text TEXT [--greedy N]
//
// node-llama-cpp is looked up in $QTUNE_NODE_LLAMA_CPP_DIR, else
// ~/.cache/qtune/tools/node-llama-cpp (scripts/setup.sh installs it there).
import {existsSync} from "node:fs";
import {homedir} from "node:os";
import {join} from "node:path";
import {pathToFileURL} from "node:url";

function args() {
  const out = {greedy: 0};
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const k = a[i], v = a[i + 1];
    if (v === undefined) throw new Error(`${k}: missing value`);
    if (k === "--model") out.model = v;
    else if (k === "--text") out.text = v;
    else if (k === "--greedy") out.greedy = Number(v);
    else throw new Error(`unknown argument ${k}`);
  }
  if (!out.model || out.text === undefined) throw new Error("usage: --model FILE.gguf --text TEXT [--greedy N]");
  return out;
}

async function main() {
  const opt = args();
  const dir = process.env.QTUNE_NODE_LLAMA_CPP_DIR || join(homedir(), ".cache", "qtune", "tools", "node-llama-cpp");
  const entry = join(dir, "node_modules", "node-llama-cpp", "dist", "index.js");
  if (!existsSync(entry)) throw new Error(`node-llama-cpp not installed at ${dir} (run scripts/setup.sh)`);
  const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href);
  // build "never": only the prebuilt CPU binaries, never a compile on this machine.
  const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
  const model = await llama.loadModel({modelPath: opt.model});
  const text = model.tokenize(opt.text, false);
  const tokens = model.tokens.shouldPrependBosToken && model.tokens.bos !== null ? [model.tokens.bos, ...text] : text;

  const context = await model.createContext({contextSize: model.trainContextSize, batchSize: model.trainContextSize, threads: 1});
  const seq = context.getSequence();
  const input = tokens.map((t) => [t, {generateNext: {probabilities: true, options: {temperature: 1, topK: 0, topP: 1, minP: 0}}}]);
  const res = await seq.controlledEvaluate(input);
  const top1 = res.map((r) => {
    const it = r.next.probabilities.entries();
    const [tok, p] = it.next().value;
    const second = it.next().value;
    return {token: tok, p, p2: second ? second[1] : 0};
  });

  const greedy = [];
  if (opt.greedy > 0) {
    await seq.clearHistory();
    for await (const t of seq.evaluate(tokens, {temperature: 0})) {
      greedy.push(t);
      if (greedy.length >= opt.greedy || tokens.length + greedy.length >= model.trainContextSize) break;
    }
  }
  process.stdout.write(JSON.stringify({
    binary: llama.buildType,
    add_bos: model.tokens.shouldPrependBosToken,
    tokens, top1, greedy,
  }) + "\n");
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((e) => {
  process.stderr.write(`llama_cpp_check: ${e.message}\n`);
  process.exit(1);
});
