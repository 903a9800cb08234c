package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"regexp"
	"testing"
)

// Help speaks of the product: no command's --help refers to our issue tracker.
func TestHelpNamesNoIssues(t *testing.T) {
	tracker := regexp.MustCompile(`(?i)\bissues?\s*#?\d|#\d+\b`)
	for _, c := range append(commands(), command{name: ""}) {
		var out bytes.Buffer
		args := []string{c.name, "--help"}
		if c.name == "" {
			args = nil
		}
		if err := dispatch(context.Background(), args, &out, &out); err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s --help: %v", c.name, err)
		}
		if out.Len() == 0 {
			t.Fatalf("%s --help printed nothing", c.name)
		}
		if m := tracker.FindString(out.String()); m != "" {
			t.Errorf("%s --help mentions %q:\n%s", c.name, m, out.String())
		}
	}
}
