package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic; every
// rejection is an *Error or Errors with bounded text; every config it
// accepts passes validation again (a round trip through the validator) and
// parsing the same bytes twice gives equal configs.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fullYAML))
	f.Add([]byte(""))
	f.Add([]byte("host: {reload_interval: 0}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := Options{Environ: []string{"CLOUDROLE_SETTING_MODE=x"}, ProgramName: "fuzz", Hostname: "h"}
		c1, err1 := Parse("/f/role.yaml", data, opts)
		c2, err2 := Parse("/f/role.yaml", data, opts)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %v then %v", err1, err2)
		}
		if err1 != nil {
			if err1.Error() != err2.Error() {
				t.Fatalf("errors differ:\n%v\n%v", err1, err2)
			}
			var e *Error
			var es Errors
			if !errors.As(err1, &e) && !errors.As(err1, &es) {
				t.Fatalf("error of type %T", err1)
			}
			if len(es) > MaxErrors+1 {
				t.Fatalf("%d errors reported", len(es))
			}
			if strings.Contains(err1.Error(), "\n\n") {
				t.Fatalf("blank line in error text:\n%v", err1)
			}
			return
		}
		if !reflect.DeepEqual(c1, c2) {
			t.Fatalf("not deterministic:\n%+v\n%+v", c1, c2)
		}
		if err := c1.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
	})
}
