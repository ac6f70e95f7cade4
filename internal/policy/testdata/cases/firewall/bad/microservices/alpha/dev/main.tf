terraform {
  backend "gcs" {}
}

resource "google_compute_firewall" "ssh" {
  name          = "allow-ssh"
  network       = "default"
  source_ranges = ["0.0.0.0/0"] # expect: TFPR012

  allow {
    protocol = "tcp"
    ports    = ["22", "443"]
  }
}
