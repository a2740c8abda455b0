// Progressive enhancement for the instance form; the form works without it.
(function () {
  "use strict";
  const form = document.getElementById("instance-form");
  if (!form) return;

  // Show only the fields of the chosen authentication type.
  function showAuthFields() {
    const chosen = form.querySelector("input[name=authentication_type]:checked");
    const type = chosen ? chosen.value : "oauth2";
    form.querySelectorAll("[data-auth]").forEach(function (row) {
      row.hidden = row.dataset.auth !== type;
    });
  }
  form.querySelectorAll("input[name=authentication_type]").forEach(function (radio) {
    radio.addEventListener("change", showAuthFields);
  });
  showAuthFields();

  // Fill the signature key with 256 random bits, shown once so it can be copied.
  form.querySelectorAll("button.generate-key").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      const input = document.getElementById(button.dataset.target);
      const bytes = new Uint8Array(32);
      window.crypto.getRandomValues(bytes);
      input.value = btoa(String.fromCharCode.apply(null, bytes))
        .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      input.type = "text";
      input.dispatchEvent(new Event("input"));
    });
  });

  // The "no signature key" warning: shown while events can arrive and no key is typed.
  form.querySelectorAll("[data-unsigned-warning]").forEach(function (warning) {
    const key = document.getElementById(warning.dataset.keyInput || "");
    const events = document.getElementById(warning.dataset.eventsInput || "");
    function update() {
      const keyTyped = key && key.value.trim() !== "";
      const eventsOff = events && !events.checked;
      warning.hidden = Boolean(keyTyped || eventsOff);
    }
    if (key) key.addEventListener("input", update);
    if (events) events.addEventListener("change", update);
    update();
  });
})();

// The element picker: filter the list as the person types (the Search button works without it).
(function () {
  "use strict";
  const search = document.getElementById("element-search");
  const list = document.getElementById("element-list");
  if (!search || !list) return;
  search.addEventListener("input", function () {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    list.querySelectorAll("li[data-search]").forEach(function (item) {
      const text = item.dataset.search;
      item.hidden = !words.every(function (word) { return text.includes(word); });
    });
  });
})();
