// Renders /openapi.json with Swagger UI. A file of its own: the page's CSP
// allows no inline script. No validator badge (it would call
// validator.swagger.io); operation ids shown, as clients generate names
// from them.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  displayOperationId: true,
  validatorUrl: null,
});
