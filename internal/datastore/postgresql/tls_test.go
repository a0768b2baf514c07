package postgresql

import (
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
)

func TestRenderTLS(t *testing.T) {
	tests := []struct {
		name    string
		tls     *datastore.TLSFiles
		want    []string
		notWant []string
	}{
		{"off", nil, nil, []string{"ssl = 'on'"}},
		{"on", &datastore.TLSFiles{CertFile: "/c/cert.pem", KeyFile: "/c/key.pem", CAFile: "/c/ca.pem"}, []string{"ssl = 'on'\n", "ssl_cert_file = '/c/cert.pem'\n", "ssl_key_file = '/c/key.pem'\n", "ssl_ca_file = '/c/ca.pem'\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec()
			spec.TLS = tt.tls
			files, err := New(Config{}).Process().Render(spec)
			if err != nil {
				t.Fatal(err)
			}
			conf := string(files[0].Content)
			for _, w := range tt.want {
				if !strings.Contains(conf, w) {
					t.Errorf("config lacks %q:\n%s", w, conf)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(conf, w) {
					t.Errorf("config has %q:\n%s", w, conf)
				}
			}
		})
	}
}
