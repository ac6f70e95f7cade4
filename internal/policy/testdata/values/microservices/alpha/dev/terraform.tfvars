reader = "allAuthenticatedUsers"
