// The API's browsable page: Swagger UI over the portal's own OpenAPI document. A file of its own
// because the Content-Security-Policy allows scripts from 'self' only, never inline.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: false,
    validatorUrl: null,
    withCredentials: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
