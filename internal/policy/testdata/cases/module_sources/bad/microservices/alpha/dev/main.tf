terraform {
  backend "gcs" {}
}

module "git" {
  source = "git::https://example.com/net.git?ref=v1" # expect: TFPR003
}

module "unpinned" {
  source  = "acme/network/google"
  version = "~> 1.2" # expect: TFPR003
}

module "foreign" {
  source  = "evilcorp/network/google" # expect: TFPR003
  version = "1.0.0"
}
