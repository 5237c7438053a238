// The report's script, inlined into report.html when the report is built: sorting (click or
// Enter on a header) and filtering (the box above a table past ten rows) for every .tbl. The
// tables read the same without it.
for (const box of document.querySelectorAll(".tbl")) {
  const table = box.querySelector("table");
  const body = table.tBodies[0];
  const rows = [...body.rows];
  const shown = box.querySelector(".shown");
  const input = box.querySelector("input");
  const filter = input && (() => {
    const q = input.value.trim().toLowerCase();
    let n = 0;
    for (const r of rows) {
      const hit = !q || r.textContent.toLowerCase().includes(q);
      r.hidden = !hit;
      if (hit) n++;
    }
    const all = rows.length.toLocaleString("en-US");
    shown.textContent = q ? n.toLocaleString("en-US") + " of " + all + " rows" : all + " rows";
  });
  input?.addEventListener("input", filter);
  const heads = [...table.tHead.rows[0].cells];
  heads.forEach((th, i) => {
    th.tabIndex = 0;
    const sort = () => {
      const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      for (const h of heads) h.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      const numeric = th.classList.contains("n");
      const key = (r) => {
        const c = r.cells[i];
        if (!numeric) return c.textContent;
        const v = c.dataset.v;
        return v === undefined ? NaN : Number(v);
      };
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        if (numeric) {
          if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : 1;
          if (Number.isNaN(y)) return -1;
          return (x - y) * dir;
        }
        return x.localeCompare(y) * dir;
      });
      body.append(...rows);
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        sort();
      }
    });
  });
}
