/**
 * A small SVG line chart for the benchmark suites: panels in a grid, each with log-scaled axes
 * and series drawn as a solid (p50) and a dashed (p99) line. No dependencies: the SVG is text.
 */

/** One line of a panel. */
export interface Series {
  label: string;
  color: string;
  /** Points of the solid line (x, y). */
  solid: [number, number][];
  /** Points of the dashed line (x, y). */
  dashed?: [number, number][];
}

/** One panel of the grid. */
export interface Panel {
  title: string;
  series: Series[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Tick values on the x axis. */
  xTicks: number[];
  columns: number;
  /** The legend's note on what solid and dashed lines mean. */
  note: string;
}

const PANEL_W = 420;
const PANEL_H = 300;
const MARGIN = { left: 64, right: 16, top: 36, bottom: 46 };

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function niceTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exponent = Math.floor(Math.log10(min)); exponent <= Math.ceil(Math.log10(max)); exponent++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** exponent;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

function label(v: number): string {
  if (v >= 1000) return `${v / 1000} ms`;
  return `${v} µs`;
}

/** Draws `panels` as one SVG document. */
export function lineChart(panels: Panel[], options: ChartOptions): string {
  const rows = Math.ceil(panels.length / options.columns);
  const legendH = 56;
  const width = options.columns * PANEL_W;
  const height = 40 + rows * PANEL_H + legendH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${
      escape(options.title)
    }</text>`,
  );
  const all = panels.flatMap((p) => p.series.flatMap((s) => [...s.solid, ...(s.dashed ?? [])]));
  const ys = all.map(([, y]) => y).filter((y) => y > 0);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const xMin = Math.min(...options.xTicks);
  const xMax = Math.max(...options.xTicks);
  panels.forEach((panel, index) => {
    const ox = (index % options.columns) * PANEL_W;
    const oy = 40 + Math.floor(index / options.columns) * PANEL_H;
    const w = PANEL_W - MARGIN.left - MARGIN.right;
    const h = PANEL_H - MARGIN.top - MARGIN.bottom;
    const px = (x: number) => ox + MARGIN.left + (Math.log(x / xMin) / Math.log(xMax / xMin)) * w;
    const py = (y: number) => oy + MARGIN.top + h - (Math.log(y / yMin) / Math.log(yMax / yMin)) * h;
    out.push(
      `<text x="${ox + MARGIN.left + w / 2}" y="${oy + 20}" text-anchor="middle" font-weight="bold">${
        escape(panel.title)
      }</text>`,
      `<rect x="${ox + MARGIN.left}" y="${
        oy + MARGIN.top
      }" width="${w}" height="${h}" fill="none" stroke="#999"/>`,
    );
    for (const t of niceTicks(yMin, yMax)) {
      out.push(
        `<line x1="${ox + MARGIN.left}" x2="${ox + MARGIN.left + w}" y1="${py(t)}" y2="${
          py(t)
        }" stroke="#eee"/>`,
        `<text x="${ox + MARGIN.left - 6}" y="${py(t) + 4}" text-anchor="end" fill="#444">${label(t)}</text>`,
      );
    }
    for (const t of options.xTicks) {
      out.push(
        `<line x1="${px(t)}" x2="${px(t)}" y1="${oy + MARGIN.top}" y2="${
          oy + MARGIN.top + h
        }" stroke="#eee"/>`,
        `<text x="${px(t)}" y="${oy + MARGIN.top + h + 16}" text-anchor="middle" fill="#444">${t}</text>`,
      );
    }
    out.push(
      `<text x="${ox + MARGIN.left + w / 2}" y="${oy + PANEL_H - 8}" text-anchor="middle" fill="#444">${
        escape(options.xLabel)
      }</text>`,
      `<text transform="translate(${ox + 14} ${
        oy + MARGIN.top + h / 2
      }) rotate(-90)" text-anchor="middle" fill="#444">${escape(options.yLabel)}</text>`,
    );
    for (const s of panel.series) {
      const path = (points: [number, number][]) =>
        points.filter(([, y]) => y > 0).map(([x, y], i) =>
          `${i === 0 ? "M" : "L"}${px(x).toFixed(1)},${py(y).toFixed(1)}`
        )
          .join(" ");
      out.push(`<path d="${path(s.solid)}" fill="none" stroke="${s.color}" stroke-width="2.2"/>`);
      for (const [x, y] of s.solid) {
        if (y > 0) {
          out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
        }
      }
      if (s.dashed) {
        out.push(
          `<path d="${
            path(s.dashed)
          }" fill="none" stroke="${s.color}" stroke-width="1.6" stroke-dasharray="5 4"/>`,
        );
      }
    }
  });
  // Legend: every series label once.
  const seen = new Map<string, string>();
  for (const p of panels) for (const s of p.series) if (!seen.has(s.label)) seen.set(s.label, s.color);
  let lx = 20;
  const ly = height - legendH + 20;
  for (const [text, color] of seen) {
    out.push(
      `<line x1="${lx}" x2="${lx + 26}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2.2"/>`,
      `<text x="${lx + 32}" y="${ly + 4}">${escape(text)}</text>`,
    );
    lx += 40 + text.length * 7;
  }
  out.push(`<text x="20" y="${ly + 24}" fill="#444">${escape(options.note)}</text>`, `</svg>`);
  return out.join("\n") + "\n";
}
