// The printable pages (picking list, 納品書): the 印刷 button prints; opened with ?print=1 they print at once.
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
  if (new URLSearchParams(window.location.search).get("print") === "1") { window.print(); }
});
