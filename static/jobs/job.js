// The job page: poll the job's JSON every second and update the progress bar, the counts and
// the failures. Without script the page reloads itself (a <noscript> refresh) while it runs.
(function () {
  "use strict";

  function render(root, data) {
    document.getElementById("job-status").textContent = data.status_display;
    document.getElementById("job-skipped").textContent = data.skipped + " skipped";
    const bar = document.getElementById("job-progress");
    if (!bar) {
      // An import reads the account: no total to measure against, only what was found so far.
      const s = data.summary;
      document.getElementById("job-count").textContent =
        data.done + " instance" + (data.done === 1 ? "" : "s") + " read at Cloud Elements";
      document.getElementById("job-summary").textContent =
        (s.imported || 0) + " imported, " + (s.known || 0) + " already here";
      return;
    }
    bar.max = data.total;
    bar.value = data.done;
    bar.textContent = data.done + " of " + data.total;
    document.getElementById("job-count").textContent = data.done + " of " + data.total + " processed";
    document.getElementById("job-succeeded").textContent = data.succeeded + " done";
    document.getElementById("job-failed").textContent = data.failed + " failed";
    const list = document.getElementById("job-failures");
    list.replaceChildren();
    data.failures.forEach(function (failure) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = failure.url;
      link.textContent = failure.instance;
      item.append(link, ": " + failure.message);
      list.append(item);
    });
    if (!data.failures.length) {
      const none = document.createElement("li");
      none.className = "empty";
      none.textContent = "None.";
      list.append(none);
    }
  }

  function poll(root) {
    fetch(root.dataset.progressUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (data) {
        render(root, data);
        if (data.finished) {
          // The buttons (Cancel → Retry) depend on the final state: show the server's page.
          window.location.reload();
        } else {
          window.setTimeout(function () { poll(root); }, 1000);
        }
      })
      .catch(function () { window.setTimeout(function () { poll(root); }, 3000); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.querySelector("[data-progress-url]");
    if (root && root.dataset.finished === "false") {
      window.setTimeout(function () { poll(root); }, 1000);
    }
  });
})();
