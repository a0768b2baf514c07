package redis

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
		{"off", nil, nil, []string{"tls-"}},
		{"on", &datastore.TLSFiles{CertFile: "/c/cert.pem", KeyFile: "/c/key.pem", CAFile: "/c/ca.pem"}, []string{"tls-port 6380\n", "tls-cert-file /c/cert.pem\n", "tls-key-file /c/key.pem\n", "tls-ca-cert-file /c/ca.pem\n", "port 6379\n"}, nil},
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
