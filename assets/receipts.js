// Receipts people can use (loaded in the page's <head> by clone.ui.app.launch_options).
// 1. A "Copy receipt" button beside the short code under each reply: it copies the full receipt, which
//    Verify needs. Its label is drawn by CSS, so text selected in the bubble never picks it up.
// 2. The chat's own copy button copies a reply as plain text (no Markdown, no HTML) that still verifies:
//    "text [1]", "Sources" and "1. Title" lines, and "AI-generated reply · receipt CODE" with the receipt.
(() => {
  const MARK = "AI-generated reply";

  function plain(text) {
    if (typeof text !== "string" || !text.includes(MARK)) return text;
    return text
      .replace(
        /<details><summary>AI-generated reply · receipt <code>([^<]*)<\/code><\/summary>\s*`([^`]*)`\s*<\/details>/g,
        (_, code, token) => `${MARK} · receipt ${code}\n${token}`
      )
      .replace(/<sub>AI-generated reply<\/sub>/g, MARK)
      .replace(/\s?\[\[(\d{1,2})\]\]\([^)]*\)/g, " [$1]")
      .replace(/^\*\*Sources\*\*$/gm, "Sources")
      .replace(/^(\d{1,2})\. \[([^\]]*)\]\([^)]*\)$/gm, "$1. $2");
  }

  if (navigator.clipboard && navigator.clipboard.writeText) {
    const write = navigator.clipboard.writeText.bind(navigator.clipboard);
    navigator.clipboard.writeText = (text) => write(plain(text));
  }

  function addButtons(root) {
    for (const summary of root.querySelectorAll("details > summary")) {
      const details = summary.parentElement;
      const next = details.nextElementSibling;
      if (!summary.textContent.startsWith(MARK + " · receipt") || (next && next.classList.contains("clone-copy-receipt"))) {
        continue;
      }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "clone-copy-receipt";
      button.setAttribute("aria-label", "Copy receipt");
      button.addEventListener("click", async (event) => {
        event.preventDefault();
        const token = details.querySelector(":scope > :not(summary) code, :scope > code");
        if (!token) return;
        await navigator.clipboard.writeText(token.textContent.trim());
        button.classList.add("clone-copied");
        button.setAttribute("aria-label", "Receipt copied");
        setTimeout(() => {
          button.classList.remove("clone-copied");
          button.setAttribute("aria-label", "Copy receipt");
        }, 2000);
      });
      // Beside the mark, not inside its summary: a button inside a summary is a nested control (WCAG 4.1.2).
      details.insertAdjacentElement("afterend", button);
    }
  }

  function start() {
    addButtons(document);
    new MutationObserver(() => addButtons(document)).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
