// Draws every card of a static dashboard page from the rows embedded in it, and
// again whenever a filter changes: rows are kept by the filters, aggregated by x
// with the card's measures, formatted and drawn. No network.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("dashboard-data").textContent);
  const brl = new Intl.NumberFormat("en-US", { style: "currency", currency: "BRL" });
  const num = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const pct = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const FMT = {
    brl: (v) => brl.format(v),
    percent: (v) => pct.format(v) + "%",
    integer: (v) => int.format(v),
    number: (v) => num.format(v),
    date: (v) => String(v).slice(0, 10),
    month: (v) => String(v).slice(0, 7),
    datetime: (v) => String(v).slice(0, 16).replace("T", " "),
    text: (v) => String(v),
  };
  const AXIS = {
    brl: { tickprefix: "R$ " },
    percent: { ticksuffix: "%" },
    integer: { tickformat: ",d" },
    number: { tickformat: ",~r" },
  };

  function show(format, value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    return (FMT[format] || FMT.text)(value);
  }

  function selected() {
    const out = {};
    for (const f of D.filters) {
      if (f.kind === "month_range") {
        out[f.column] = {
          from: document.getElementById("f-" + f.column + "-from").value,
          to: document.getElementById("f-" + f.column + "-to").value,
        };
      } else {
        out[f.column] = document.getElementById("f-" + f.column).value;
      }
    }
    return out;
  }

  for (const card of D.cards) {
    card.columns = D.datasets[card.dataset].columns;
    card.rows = D.datasets[card.dataset].rows;
  }

  function keep(card, picked) {
    const cols = card.columns;
    const tests = [];
    for (const f of D.filters) {
      if (card.unfiltered.includes(f.column)) continue;
      const i = cols.indexOf(f.column);
      if (i < 0) continue;
      const p = picked[f.column];
      if (f.kind === "month_range") {
        tests.push((r) => {
          const m = String(r[i]).slice(0, 7);
          return (!p.from || m >= p.from) && (!p.to || m <= p.to);
        });
      } else if (p !== "") {
        tests.push((r) => String(r[i]) === p);
      }
    }
    return card.rows.filter((r) => tests.every((t) => t(r)));
  }

  function aggregate(card, rows) {
    const cols = card.columns;
    const xi = card.x ? cols.indexOf(card.x) : -1;
    const groups = new Map();
    for (const r of rows) {
      const key = xi < 0 ? "" : r[xi];
      let g = groups.get(key);
      if (!g) {
        g = {};
        groups.set(key, g);
      }
      for (const m of card.measures) {
        for (const c of m.columns) {
          const v = r[cols.indexOf(c)];
          if (v === null || v === undefined) continue;
          if (m.max) g[c] = c in g ? Math.max(g[c], Number(v)) : Number(v);
          else g[c] = (g[c] || 0) + Number(v);
        }
      }
    }
    const out = [];
    for (const [key, g] of groups) {
      const values = card.measures.map((m) => {
        const one = m.sum || m.max;
        if (one) return one in g ? g[one] * m.scale : null;
        const den = g[m.ratio[1]];
        return den ? ((g[m.ratio[0]] || 0) / den) * m.scale : null;
      });
      out.push({ x: key, values });
    }
    // x in code-unit order, nulls last (the SQL Metabase runs: collate "C", nulls last)
    const byX = (a, b) => {
      if (a.x === null || b.x === null) return (a.x === null) - (b.x === null);
      return a.x < b.x ? -1 : a.x > b.x ? 1 : 0;
    };
    if (card.sort === "x") out.sort(byX);
    if (card.sort === "value_desc") {
      // largest first, nulls last, ties in x's order
      const v = (g) => (g.values[0] === null ? -Infinity : g.values[0]);
      out.sort((a, b) => v(b) - v(a) || byX(a, b));
    }
    return card.limit ? out.slice(0, card.limit) : out;
  }

  function label(card, x) {
    return card.value_labels[x] || (card.formats[card.x] ? show(card.formats[card.x], x) : x);
  }

  function partialMonth(card, groups) {
    if (card.period !== "month" || !D.data_end || !groups.length) return null;
    const last = String(groups[groups.length - 1].x).slice(0, 7);
    const end = new Date(D.data_end + "T00:00:00Z");
    const next = new Date(end.getTime() + 86400000);
    if (last === D.data_end.slice(0, 7) && next.getUTCDate() !== 1) return last;
    return null;
  }

  function figure(card, groups, partial) {
    const xs = groups.map((g) => label(card, g.x));
    const data = card.y.map((y, j) => {
      const fmt = card.formats[y];
      const ys = groups.map((g) => g.values[j]);
      const text = ys.map((v) => show(fmt, v));
      const name = card.labels[y] || y;
      if (card.chart === "pie") {
        return { type: "pie", labels: xs, values: ys, text, textinfo: "label+percent",
                 hovertemplate: "%{label}: %{text}<extra></extra>", hole: 0.4, name };
      }
      const t = { name, text, hovertemplate: "%{x}: %{text}<extra>" + name + "</extra>" };
      if (card.chart === "row") {
        Object.assign(t, { type: "bar", orientation: "h", x: ys.slice().reverse(),
                           y: xs.slice().reverse(), text: text.slice().reverse(),
                           hovertemplate: "%{y}: %{text}<extra>" + name + "</extra>" });
      } else {
        Object.assign(t, { type: card.chart === "bar" ? "bar" : "scatter", x: xs, y: ys });
        if (card.chart === "bar") t.textposition = xs.length > 8 ? "none" : "auto";
        if (card.chart === "line") t.mode = "lines+markers";
        if (card.chart === "scatter") t.mode = "markers";
        if (partial && card.chart === "bar") {
          t.marker = { opacity: groups.map((g) => (String(g.x).slice(0, 7) === partial ? 0.35 : 1)) };
        }
      }
      return t;
    });
    const valueAxis = Object.assign({ title: { text: card.y_title || "" }, automargin: true },
                                    AXIS[card.formats[card.y[0]]] || {});
    const top = Math.max(0, ...groups.flatMap((g) => g.values.map((v) => Math.abs(v || 0))));
    if (card.formats[card.y[0]] === "integer" && top < 10) valueAxis.dtick = 1;
    const catAxis = { title: { text: card.x_title || "" }, automargin: true, type: "category" };
    const layout = {
      margin: { l: 56, r: 8, t: 8, b: 48 }, autosize: true,
      showlegend: card.y.length > 1 || card.chart === "pie",
      legend: { orientation: "h", y: -0.25 },
      xaxis: card.chart === "row" ? valueAxis : catAxis,
      yaxis: card.chart === "row" ? catAxis : valueAxis,
    };
    if (card.chart === "scatter") layout.xaxis.type = "linear";
    if (partial) {
      layout.annotations = [{ x: label(card, groups[groups.length - 1].x), y: 1, yref: "paper",
                              text: "partial month", showarrow: false, font: { size: 11 } }];
    }
    return { data, layout };
  }

  function table(card, rows, groups) {
    const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
    let head, body;
    if (card.y.length) {
      head = [card.x_title || card.x, ...card.y.map((y) => card.labels[y] || y)];
      body = groups.map((g) => [label(card, g.x), ...g.values.map((v, j) => show(card.formats[card.y[j]], v))]);
    } else {
      head = card.columns.map((c) => card.labels[c] || c);
      body = rows.slice(0, card.limit || 200).map((r) => r.map((v, i) => show(card.formats[card.columns[i]], v)));
    }
    return "<table><thead><tr>" + head.map((h) => "<th>" + esc(h) + "</th>").join("") +
      "</tr></thead><tbody>" + body.map((r) => "<tr>" + r.map((v) => "<td>" + esc(v) + "</td>").join("") + "</tr>").join("") +
      "</tbody></table>";
  }

  function period(card, picked) {
    const parts = [];
    for (const f of D.filters) {
      if (card.unfiltered.includes(f.column)) {
        parts.push("not filtered by " + f.label.toLowerCase());
      } else if (f.kind === "month_range") {
        const p = picked[f.column];
        parts.push(f.label + " " + (p.from || D.months[0]) + " to " + (p.to || D.months[D.months.length - 1]));
      }
    }
    return parts.join(" · ");
  }

  function draw() {
    const picked = selected();
    for (const card of D.cards) {
      const el = document.getElementById(card.id);
      const rows = keep(card, picked);
      const groups = card.y.length ? aggregate(card, rows) : [];
      const note = document.getElementById(card.id + "-note");
      const partial = partialMonth(card, groups);
      if (note) {
        note.textContent = period(card, picked) +
          (partial ? " · last month partial (data to " + D.data_end + ")" : "");
      }
      if (card.chart === "number") {
        // a total over no rows (the filters kept none) is 0; a ratio of nothing is "–"
        const none = card.measures[0].sum ? 0 : null;
        el.textContent = show(card.formats[card.y[0]], groups.length ? groups[0].values[0] : none);
      } else if (card.chart === "table") {
        el.innerHTML = table(card, rows, groups);
      } else {
        const fig = figure(card, groups, partial);
        Plotly.react(el, fig.data, fig.layout, { responsive: true, displayModeBar: false });
      }
    }
  }

  for (const el of document.querySelectorAll(".filters select")) el.addEventListener("change", draw);
  draw();
})();
