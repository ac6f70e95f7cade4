resource "google_spanner_instance" "main" {
  name         = "main"
  config       = "regional-europe-west1"
  display_name = "main"
  num_nodes    = 1
  labels       = { service = "alpha", env = "dev", owner = "team-alpha" }
}
