package httpapi

// registerFileRoutes is implemented by the files feature.
func (h *handler) registerFileRoutes(rt *routeTable) {
}
