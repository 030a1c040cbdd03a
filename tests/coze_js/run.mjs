// Runs one snippet of coze-js code against a Coze-compatible server and prints its result as JSON.
// Usage: node run.mjs <base_url> <token>   (the snippet is read from stdin)
// The snippet is the body of an async function of (coze, sdk); whatever it returns is printed.
import * as sdk from '@coze/api';

const [baseURL, token] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const body = Buffer.concat(chunks).toString('utf8');

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const coze = new sdk.CozeAPI({ token, baseURL });
try {
  const result = await new AsyncFunction('coze', 'sdk', body)(coze, sdk);
  process.stdout.write(JSON.stringify({ ok: true, result: result ?? null }));
} catch (error) {
  // coze-js raises APIError with the Coze code and message; keep what a test wants to assert on.
  process.stdout.write(
    JSON.stringify({
      ok: false,
      error: {
        name: error?.constructor?.name ?? 'Error',
        message: String(error?.message ?? error),
        code: error?.code ?? null,
        status: error?.status ?? null,
      },
    }),
  );
}
