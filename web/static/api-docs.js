// The API's documentation page: Swagger UI (from web/package-lock.json, served from
// /static/vendor) reading /api/v1/openapi.json. A file, not an inline script: the page's CSP
// allows scripts from the site only.
(function () {
  "use strict";
  var root = document.getElementById("api-docs");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: false, // with it each summary button holds a link (axe: nested-interactive)
    tryItOutEnabled: false,
    displayOperationId: true,
    defaultModelsExpandDepth: 0,
    validatorUrl: null, // never ask an outside validator about the document
    onComplete: function () {
      // The servers list has no label of its own; say what it chooses.
      var servers = document.getElementById("servers");
      if (servers) servers.setAttribute("aria-label", "Server");
    },
  });
})();
