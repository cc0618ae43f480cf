// The report form's location helpers; the form works without them (coordinates are optional
// and can be typed). "Use my location" fills the coordinates; with a tile server configured,
// a Leaflet map shows and sets the pin.
(function () {
  "use strict";
  var lat = document.getElementById("latitude");
  var lon = document.getElementById("longitude");
  var status = document.getElementById("lokasi-status");
  var button = document.getElementById("lokasi-saya");
  var mapBox = document.getElementById("peta");
  if (!lat || !lon) return;
  var marker = null;
  var map = null;

  function setPoint(la, lo, pan) {
    lat.value = la.toFixed(6);
    lon.value = lo.toFixed(6);
    if (map) {
      if (marker) marker.setLatLng([la, lo]); else marker = window.L.marker([la, lo]).addTo(map);
      if (pan) map.setView([la, lo], 17);
    }
  }

  if (mapBox && window.L) {
    mapBox.hidden = false;
    map = window.L.map(mapBox).setView([-6.1783, 106.6319], 13); // Kota Tangerang
    window.L.tileLayer(mapBox.dataset.tiles, { attribution: mapBox.dataset.attribution, maxZoom: 19 }).addTo(map);
    map.on("click", function (e) { setPoint(e.latlng.lat, e.latlng.lng, false); });
    if (lat.value && lon.value) setPoint(parseFloat(lat.value), parseFloat(lon.value), true);
  }

  if (button && "geolocation" in navigator) {
    button.parentElement.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = document.documentElement.lang === "en" ? "Finding your location…" : "Mencari lokasi Anda…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        setPoint(pos.coords.latitude, pos.coords.longitude, true);
        status.textContent = document.documentElement.lang === "en" ? "Location set." : "Lokasi terisi.";
      }, function () {
        status.textContent = document.documentElement.lang === "en"
          ? "Your location is not available; type the address instead."
          : "Lokasi tidak tersedia; tulis alamatnya saja.";
      }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }
})();
