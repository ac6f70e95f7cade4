package config

import (
	"fmt"
	"strconv"
	"time"
)

// driftFields are the settings of the scheduled drift checks.
func (c *Config) driftFields() []field {
	return []field{
		{"drift-interval", "TFPR_DRIFT_INTERVAL", "every default-branch project is checked for drift at least once per interval, spread evenly over it; 0 turns drift checks off", "24h", func(v string) error {
			d, err := time.ParseDuration(v)
			if v == "0" {
				d, err = 0, nil
			}
			if err != nil || d < 0 {
				return fmt.Errorf("not a duration (0 for off): %q", v)
			}
			c.DriftInterval = d
			return nil
		}},
		{"drift-parallelism", "TFPR_DRIFT_PARALLELISM", "drift checks at once; PR and apply work always goes first", "1", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("not a positive integer: %q", v)
			}
			c.DriftParallelism = n
			return nil
		}},
	}
}

// checkDrift refuses drift checks that could take every terraform slot: a
// PR arriving mid-sweep would wait for a whole check.
func (c *Config) checkDrift() error {
	if c.DriftInterval > 0 && c.DriftParallelism >= c.Parallelism {
		return fmt.Errorf("TFPR_DRIFT_PARALLELISM=%d must be below TFPR_PARALLELISM=%d, so drift checks always leave PR plans and applies a terraform slot",
			c.DriftParallelism, c.Parallelism)
	}
	return nil
}
