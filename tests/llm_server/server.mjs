// A small OpenAI-compatible chat-completions server for the real-model test
// (tests/answering/test_llm_real.py): node-llama-cpp runs a GGUF model on the CPU with its prebuilt
// binaries, on 127.0.0.1 only.
//
//   node server.mjs --model PATH.gguf --port 0 [--context 4096] [--threads 1]
//
// It prints one line `listening <port>` once the model is loaded. POST /v1/chat/completions answers
// plain JSON, or server-sent events when the request says "stream": true. Requests are served one at
// a time (one context sequence). POST /fault {"mode": ...} makes the next completion fail on purpose,
// so the test can check how the assistant degrades against a real server:
//   slow       wait `seconds` (default 60) before answering
//   malformed  a body that is not JSON (or, streamed, an event that is not JSON)
//   empty      {"choices": []} (streamed: no content delta, then [DONE])
//   cut        streamed: the model's first `chunks` (default 3) deltas, then the connection is destroyed
import http from "node:http";
import { getLlama, LlamaChat } from "node-llama-cpp";

function option(name, fallback) {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? process.argv[at + 1] : fallback;
}

const modelPath = option("model");
const port = Number(option("port", "0"));
const contextSize = Number(option("context", "4096"));
// one thread: on a busy 2-core machine llama.cpp's spinning worker threads slow generation ~30x
const threads = Number(option("threads", "1"));
if (!modelPath) {
    console.error("usage: node server.mjs --model PATH.gguf [--port N] [--context N]");
    process.exit(2);
}

// build: "never": only the prebuilt binaries from the npm package; nothing is compiled or downloaded
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize, sequences: 1, threads });
const sequence = context.getSequence();
const modelName = modelPath.split("/").pop().replace(/\.gguf$/, "");

let fault = null; // the next completion's fault, set by POST /fault
let queue = Promise.resolve(); // one generation at a time

function readBody(req) {
    return new Promise((resolve, reject) => {
        const parts = [];
        req.on("data", (part) => parts.push(part));
        req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
        req.on("error", reject);
    });
}

function text(content) {
    if (typeof content === "string") return content;
    if (Array.isArray(content)) return content.map((p) => (typeof p === "string" ? p : p.text ?? "")).join("");
    return "";
}

function history(messages) {
    const items = [];
    for (const m of messages) {
        if (m.role === "system" || m.role === "developer") items.push({ type: "system", text: text(m.content) });
        else if (m.role === "assistant") items.push({ type: "model", response: [text(m.content)] });
        else items.push({ type: "user", text: text(m.content) });
    }
    items.push({ type: "model", response: [] });
    return items;
}

function chunk(delta, finish = null) {
    return { id: "chatcmpl-local", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: modelName, choices: [{ index: 0, delta, finish_reason: finish }] };
}

function send(res, status, body) {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
}

async function generate(request, onText, signal) {
    await sequence.clearHistory();
    const chat = new LlamaChat({ contextSequence: sequence, autoDisposeSequence: false });
    try {
        const response = await chat.generateResponse(history(request.messages ?? []), {
            maxTokens: request.max_completion_tokens ?? request.max_tokens ?? 256,
            temperature: request.temperature ?? 0,
            onTextChunk: onText,
            signal,
            stopOnAbortSignal: true,
        });
        return { text: response.response, finish: response.metadata?.stopReason === "maxTokens" ? "length" : "stop" };
    } finally {
        chat.dispose({ disposeSequence: false });
    }
}

async function complete(req, res, request) {
    const current = fault;
    fault = null;
    if (current?.mode === "slow") await new Promise((r) => setTimeout(r, 1000 * (current.seconds ?? 60)));
    if (res.destroyed) return;
    if (!request.stream) {
        if (current?.mode === "malformed") return send(res, 200, '{"choices": [{"message": ');
        if (current?.mode === "empty") return send(res, 200, { id: "chatcmpl-local", object: "chat.completion", created: 0, model: modelName, choices: [] });
        const out = await generate(request, undefined, undefined);
        return send(res, 200, {
            id: "chatcmpl-local", object: "chat.completion", created: Math.floor(Date.now() / 1000), model: modelName,
            choices: [{ index: 0, message: { role: "assistant", content: out.text }, finish_reason: out.finish }],
            usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        });
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const event = (data) => res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
    event(chunk({ role: "assistant", content: "" }));
    if (current?.mode === "malformed") return res.end("data: {not json\n\n");
    if (current?.mode === "empty") {
        event(chunk({}, "stop"));
        return res.end("data: [DONE]\n\n");
    }
    const abort = new AbortController();
    let sent = 0;
    res.on("close", () => abort.abort());
    const out = await generate(request, (piece) => {
        if (abort.signal.aborted) return;
        event(chunk({ content: piece }));
        sent += 1;
        if (current?.mode === "cut" && sent >= (current.chunks ?? 3)) {
            res.destroy(); // mid-stream, no finish_reason, no [DONE]
            abort.abort();
        }
    }, abort.signal);
    if (res.destroyed) return;
    event(chunk({}, out.finish));
    res.end("data: [DONE]\n\n");
}

const server = http.createServer(async (req, res) => {
    try {
        if (req.method === "GET" && req.url.startsWith("/v1/models")) {
            return send(res, 200, { object: "list", data: [{ id: modelName, object: "model", owned_by: "local" }] });
        }
        if (req.method === "POST" && req.url === "/fault") {
            fault = JSON.parse((await readBody(req)) || "{}");
            return send(res, 200, { fault });
        }
        if (req.method === "POST" && req.url.startsWith("/v1/chat/completions")) {
            const request = JSON.parse(await readBody(req));
            const turn = queue.then(() => complete(req, res, request));
            queue = turn.catch(() => {});
            return await turn;
        }
        send(res, 404, { error: { message: "not found" } });
    } catch (err) {
        if (!res.headersSent) send(res, 500, { error: { message: String(err?.message ?? err) } });
        else res.destroy();
    }
});

server.listen(port, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, async () => {
        server.close();
        await context.dispose();
        await model.dispose();
        process.exit(0);
    });
}
