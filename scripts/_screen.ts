/**
 * A command run under a pseudo-terminal (util-linux `script`), and the screen it leaves, as a
 * terminal emulator (xterm.js, headless) renders it: for the test of `xio watch` and for the
 * picture of it in the README.
 *
 * @module
 */

import { spawn } from "node:child_process";
import xterm from "@xterm/headless";

/** Runs `command` (a shell command line) under a pseudo-terminal of `cols` x `rows`. */
export function underTerminal(command: string, cols: number, rows: number): Promise<string> {
  const line = `stty cols ${cols} rows ${rows}; exec ${command}`;
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", line, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on(
      "close",
      (code) => (code === 0 ? resolve(out) : reject(new Error(`exited with ${code}: ${out}`))),
    );
  });
}

interface XTerm {
  write(data: string, done: () => void): void;
  buffer: {
    active: { type: string; getLine(y: number): { translateToString(trim: boolean): string } | undefined };
  };
}

/**
 * The screen that `raw` shows on a terminal of `cols` x `rows` just before the program restores
 * the terminal (shows the cursor again), and which buffer it was drawn on.
 */
export async function screenOf(
  raw: string,
  cols: number,
  rows: number,
): Promise<{ lines: string[]; buffer: string }> {
  const restore = raw.lastIndexOf("\x1b[?25h");
  const shown = restore < 0 ? raw : raw.slice(0, restore);
  const Terminal = (xterm as unknown as { Terminal: new (o: object) => XTerm }).Terminal;
  const terminal = new Terminal({ cols, rows, allowProposedApi: true });
  await new Promise<void>((resolve) => terminal.write(shown, resolve));
  const buffer = terminal.buffer.active;
  const lines: string[] = [];
  for (let y = 0; y < rows; y++) lines.push(buffer.getLine(y)?.translateToString(true) ?? "");
  return { lines, buffer: buffer.type };
}

/** A screen as an SVG picture: light text on a dark terminal. */
export function svgOf(lines: string[], cols: number): string {
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  const charWidth = 7.8;
  const lineHeight = 17;
  const width = Math.ceil(cols * charWidth + 32);
  const height = lines.length * lineHeight + 52;
  const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const text = lines.map((line, i) =>
    `  <text x="16" y="${40 + i * lineHeight}" xml:space="preserve"${i === 0 ? ' class="title"' : ""}>${
      escape(line)
    }</text>`
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `  <style>text { font: 13px ui-monospace, "DejaVu Sans Mono", Menlo, monospace; fill: #d8dee9; } .title { fill: #88c0d0; font-weight: bold; }</style>`,
    `  <rect width="100%" height="100%" rx="8" fill="#2e3440"/>`,
    `  <circle cx="18" cy="14" r="5" fill="#bf616a"/><circle cx="34" cy="14" r="5" fill="#ebcb8b"/><circle cx="50" cy="14" r="5" fill="#a3be8c"/>`,
    ...text,
    `</svg>`,
    "",
  ].join("\n");
}
