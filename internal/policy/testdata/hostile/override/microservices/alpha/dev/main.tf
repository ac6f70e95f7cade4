terraform {
  backend "gcs" {}
}

