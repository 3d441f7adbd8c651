/* Shared by the static pages of `rsmmvp review` and `rsmmvp human`; rsmmvp_tasks.pages.render_page inlines it
   into each page (one self-contained file, no network). A page using it has a #notice line, a #download
   button, an #import-btn button and a hidden <input type="file" id="import-file">, and defines
   window.rsmmvpExport() (the export as JSON text) and window.rsmmvpImport(text). */
var rsmmvpPage = (function () {
  "use strict";

  // Show msg in the page's #notice line (nothing: the line hides).
  function notice(msg) { document.getElementById("notice").textContent = msg || ""; }

  // Progress kept in localStorage under key. When the browser refuses (some do for file:// pages) or the
  // stored value is unreadable, warning goes to #notice and later saves are skipped.
  function store(key, warning) {
    var ok = true;
    function refused() { ok = false; notice(warning); }
    return {
      save: function (value) {
        if (!ok) return;
        try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { refused(); }
      },
      load: function () {  // the saved value, or null: nothing saved, or storage refused
        try { var raw = localStorage.getItem(key); return raw ? JSON.parse(raw) : null; }
        catch (e) { refused(); return null; }
      }
    };
  }

  // #download saves window.rsmmvpExport() as a file named filename (a string, or a function asked at each
  // click); #import-btn opens the file picker and the chosen file goes to window.rsmmvpImport (a refusal is
  // shown in #notice).
  function wireExportImport(filename) {
    document.getElementById("download").addEventListener("click", function () {
      var blob = new Blob([window.rsmmvpExport()], { type: "application/json" });
      var url = URL.createObjectURL(blob), link = document.createElement("a");
      link.href = url; link.download = typeof filename === "function" ? filename() : filename;
      document.body.appendChild(link); link.click(); link.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
    var input = document.getElementById("import-file");
    document.getElementById("import-btn").addEventListener("click", function () { input.click(); });
    input.addEventListener("change", function (ev) {
      var f = ev.target.files[0]; if (!f) return;
      var reader = new FileReader();
      reader.onload = function () { try { window.rsmmvpImport(reader.result); } catch (e) { notice("Import failed: " + e.message); } };
      reader.readAsText(f);
      ev.target.value = "";
    });
  }

  return { notice: notice, store: store, wireExportImport: wireExportImport };
})();
