// Copy buttons: <button data-copy-target="id" data-copy-status="id" hidden>. Without script the
// text stays selectable, and the button stays hidden.
(function () {
  "use strict";

  function textOf(target) {
    return target.tagName === "INPUT" || target.tagName === "TEXTAREA" ? target.value : target.textContent;
  }

  // For browsers without the asynchronous clipboard (or outside a secure context).
  function copyBySelection(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "0";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    document.body.removeChild(area);
    return copied;
  }

  document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
    const target = document.getElementById(button.dataset.copyTarget);
    const status = document.getElementById(button.dataset.copyStatus || "");
    if (!target) return;
    button.hidden = false;
    function report(copied) {
      if (status) status.textContent = copied ? "Copied" : "Could not copy: select the text and copy it.";
    }
    button.addEventListener("click", function () {
      const text = textOf(target);
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { report(true); },
          function () { report(copyBySelection(text)); }
        );
      } else {
        report(copyBySelection(text));
      }
    });
  });
})();
