// "Copy link again" on an instance page: with script, the link goes to the clipboard in one
// click (the server answers the same POST as JSON); without, or if that fails, the form is
// sent as usual and its page shows the link.
(function () {
  "use strict";

  document.querySelectorAll("form[data-copy-link]").forEach(function (form) {
    const status = document.getElementById(form.dataset.copyLink);
    let fallback = false;
    form.addEventListener("submit", function (event) {
      if (fallback || !(navigator.clipboard && window.isSecureContext)) return;
      event.preventDefault();
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (answer) { return navigator.clipboard.writeText(answer.url); })
        .then(function () {
          if (status) status.textContent = "Link copied";
        })
        .catch(function () {
          fallback = true;
          form.submit();
        });
    });
  });
})();
