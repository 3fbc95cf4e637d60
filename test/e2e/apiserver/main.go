// Command e2e-apiserver runs a real kube-apiserver (k8s.io/kubernetes) backed by
// an embedded, single-member etcd, both bound to loopback only, for the nicguard
// end-to-end tests. There is no controller-manager, scheduler or kubelet: the
// API, CRDs and admission webhooks work; controllers do not run.
//
// Usage:
//
//	e2e-apiserver --work-dir DIR [--port N] [--etcd-port N] [--etcd-peer-port N] [-- <extra kube-apiserver flags>]
//
// Everything lives in DIR (etcd data, service-account key, token file, serving
// certificates, kubeconfig), so restarting with the same DIR keeps all objects,
// the admin token and the serving CA. Once /readyz answers "ok" it writes
// DIR/kubeconfig and prints exactly one line on stdout:
//
//	READY <absolute path of DIR/kubeconfig>
//
// SIGTERM/SIGINT shut down the apiserver and then etcd; a second signal, or a
// shutdown taking longer than 20s, exits at once (etcd data is on disk).
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "time/tzdata" // for timeZone support in CronJob, as in cmd/kube-apiserver

	"go.etcd.io/etcd/server/v3/embed"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // as in cmd/kube-apiserver
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // as in cmd/kube-apiserver
	_ "k8s.io/component-base/metrics/prometheus/version"  // as in cmd/kube-apiserver
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

const (
	loopback       = "127.0.0.1"
	adminUser      = "admin"
	adminGroup     = "system:masters"
	shutdownBudget = 20 * time.Second
	startBudget    = 120 * time.Second
)

func main() {
	os.Exit(run())
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e-apiserver: "+format+"\n", args...)
}

// ports are remembered in DIR/ports.json so that "0 = pick a free port"
// still gives the same ports when the server is restarted on the same DIR.
type ports struct {
	Secure   int `json:"securePort"`
	Etcd     int `json:"etcdPort"`
	EtcdPeer int `json:"etcdPeerPort"`
}

func run() int {
	fs := flag.NewFlagSet("e2e-apiserver", flag.ContinueOnError)
	workDir := fs.String("work-dir", "", "directory for etcd data, keys, token file, certificates and kubeconfig (required; reused on restart)")
	port := fs.Int("port", 6443, "kube-apiserver secure port on 127.0.0.1 (0: free port, remembered in work dir)")
	etcdPort := fs.Int("etcd-port", 0, "etcd client port on 127.0.0.1 (0: free port, remembered in work dir)")
	etcdPeerPort := fs.Int("etcd-peer-port", 0, "etcd peer port on 127.0.0.1 (0: free port, remembered in work dir)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: e2e-apiserver --work-dir DIR [flags] [-- extra kube-apiserver flags]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	extra := fs.Args() // everything after "--" goes to kube-apiserver
	if *workDir == "" {
		logf("--work-dir is required")
		fs.Usage()
		return 2
	}
	dir, err := filepath.Abs(*workDir)
	if err != nil {
		logf("%v", err)
		return 1
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		logf("%v", err)
		return 1
	}

	p, err := resolvePorts(dir, ports{Secure: *port, Etcd: *etcdPort, EtcdPeer: *etcdPeerPort})
	if err != nil {
		logf("ports: %v", err)
		return 1
	}
	saKey, err := ensureServiceAccountKey(filepath.Join(dir, "sa.key"))
	if err != nil {
		logf("service account key: %v", err)
		return 1
	}
	requestHeaderCA, err := ensureRequestHeaderCA(filepath.Join(dir, "requestheader-ca.crt"), filepath.Join(dir, "requestheader-ca.key"))
	if err != nil {
		logf("request-header CA: %v", err)
		return 1
	}
	tokenFile := filepath.Join(dir, "tokens.csv")
	token, err := ensureToken(tokenFile)
	if err != nil {
		logf("token file: %v", err)
		return 1
	}

	// Must be created before etcd starts: it installs the SIGTERM/SIGINT handler
	// (genericapiserver.SetupSignalContext) that drives the graceful shutdown.
	cmd := app.NewAPIServerCommand()

	// Our own watcher for the same signals only enforces a deadline.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		logf("received %v, shutting down", s)
		time.Sleep(shutdownBudget)
		logf("shutdown took longer than %v, exiting", shutdownBudget)
		os.Exit(1)
	}()

	started := time.Now()
	etcd, err := startEtcd(filepath.Join(dir, "etcd"), p)
	if err != nil {
		logf("etcd: %v", err)
		return 1
	}
	logf("etcd ready on http://%s:%d after %v", loopback, p.Etcd, time.Since(started).Round(time.Millisecond))
	go func() {
		if err, ok := <-etcd.Err(); ok && err != nil {
			logf("etcd failed: %v", err)
			genericapiserver.RequestShutdown()
		}
	}()

	args := []string{
		"--advertise-address=" + loopback,
		"--bind-address=" + loopback,
		"--secure-port=" + strconv.Itoa(p.Secure),
		"--cert-dir=" + filepath.Join(dir, "certs"),
		fmt.Sprintf("--etcd-servers=http://%s:%d", loopback, p.Etcd),
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-key-file=" + saKey,
		"--service-account-signing-key-file=" + saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-cluster-ip-range=10.0.0.0/24",
		// No controller-manager creates "default" ServiceAccounts, so the
		// ServiceAccount admission plugin would reject every Pod. The webhook
		// admission plugins stay enabled (they are on by default).
		"--disable-admission-plugins=ServiceAccount",
		// The "kubernetes" Service endpoints may not point at a loopback
		// address; without this the apiserver logs a reconcile error forever.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
		// Aggregated API servers such as KubeVirt's virt-api read the request-header CA
		// and header names from kube-system/extension-apiserver-authentication, which
		// kube-apiserver publishes only when these are set (virt-api refuses to start
		// without requestheader-client-ca-file: kubevirt v1.8.4 pkg/virt-api/api.go).
		"--requestheader-client-ca-file=" + requestHeaderCA,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--requestheader-allowed-names=front-proxy-client",
	}
	args = append(args, extra...)
	cmd.SetArgs(args)

	readyErr := make(chan error, 1)
	go func() { readyErr <- waitReady(dir, p.Secure, token, started) }()
	go func() {
		if err := <-readyErr; err != nil {
			logf("%v", err)
			genericapiserver.RequestShutdown()
		}
	}()

	code := cli.Run(cmd) // returns after the signal context is cancelled and the server drained
	logf("kube-apiserver exited (code %d), stopping etcd", code)
	etcd.Close()
	logf("stopped")
	return code
}

func resolvePorts(dir string, want ports) (ports, error) {
	file := filepath.Join(dir, "ports.json")
	var saved ports
	if b, err := os.ReadFile(file); err == nil {
		_ = json.Unmarshal(b, &saved)
	}
	// Fresh ports are taken while all of them stay bound: a port closed and asked for
	// again can come back at once (CI once gave etcd's client and peer the same one).
	var p ports
	chosen := []*int{&p.Secure, &p.Etcd, &p.EtcdPeer}
	asked := []int{want.Secure, want.Etcd, want.EtcdPeer}
	remembered := []int{saved.Secure, saved.Etcd, saved.EtcdPeer}
	var unset []*int
	taken := map[int]bool{}
	for i, port := range chosen {
		switch {
		case asked[i] != 0:
			*port = asked[i]
		case remembered[i] != 0:
			*port = remembered[i]
		default:
			unset = append(unset, port)
		}
		taken[*port] = *port != 0
	}
	fresh, err := freePorts(len(unset), taken)
	if err != nil {
		return p, err
	}
	for i, port := range unset {
		*port = fresh[i]
	}
	if p.Secure == p.Etcd || p.Secure == p.EtcdPeer || p.Etcd == p.EtcdPeer {
		return p, fmt.Errorf("ports must differ: %+v", p)
	}
	b, _ := json.MarshalIndent(p, "", "  ")
	return p, writeFileAtomic(file, append(b, '\n'), 0o600)
}

// freePorts returns n distinct free loopback ports not in taken, holding each until all
// are known (one in taken is held too, so the next try gets another).
func freePorts(n int, taken map[int]bool) ([]int, error) {
	var found []int
	for len(found) < n {
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return nil, err
		}
		defer l.Close()
		if port := l.Addr().(*net.TCPAddr).Port; !taken[port] {
			found = append(found, port)
		}
	}
	return found, nil
}

func ensureServiceAccountKey(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return path, writeFileAtomic(path, b, 0o600)
}

// ensureRequestHeaderCA creates (once) a self-signed CA for request-header
// authentication. Nothing in the e2e suite signs client certificates with it yet;
// the key is kept so that a front proxy could be added.
func ensureRequestHeaderCA(certPath, keyPath string) (string, error) {
	if _, err := os.Stat(certPath); err == nil {
		return certPath, nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "e2e-requestheader-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return "", err
	}
	return certPath, writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// ensureToken creates (once) a static token file with a single admin token:
// token,user,uid,"groups".
func ensureToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		tok, _, _ := strings.Cut(strings.TrimSpace(string(b)), ",")
		if tok != "" {
			return tok, nil
		}
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	line := fmt.Sprintf("%s,%s,%s,\"%s\"\n", tok, adminUser, adminUser, adminGroup)
	return tok, writeFileAtomic(path, []byte(line), 0o600)
}

func startEtcd(dataDir string, p ports) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "e2e"
	cfg.Dir = dataDir
	client := url.URL{Scheme: "http", Host: net.JoinHostPort(loopback, strconv.Itoa(p.Etcd))}
	peer := url.URL{Scheme: "http", Host: net.JoinHostPort(loopback, strconv.Itoa(p.EtcdPeer))}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// Data survives a killed process (it is in the page cache); only an OS
	// crash could lose it, which is acceptable for a throw-away test cluster.
	cfg.UnsafeNoFsync = true
	// Single member: a short election timeout makes it leader in ~0.1s
	// instead of ~0.7s on every start.
	cfg.TickMs = 10
	cfg.ElectionMs = 100
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{"stderr"}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, err
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, errors.New("etcd took longer than 60s to become ready")
	}
}

// waitReady polls /readyz with the admin token, then writes DIR/kubeconfig
// and prints the READY line.
func waitReady(dir string, port int, token string, started time.Time) error {
	base := fmt.Sprintf("https://%s:%d", loopback, port)
	hc := &http.Client{
		Timeout: 5 * time.Second,
		// Loopback only; the serving cert is generated by the apiserver at start.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec
	}
	deadline := started.Add(startBudget)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, base+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := hc.Do(req); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "ok" {
				kubeconfig := filepath.Join(dir, "kubeconfig")
				if err := writeKubeconfig(kubeconfig, filepath.Join(dir, "certs", "apiserver.crt"), base, token); err != nil {
					return fmt.Errorf("writing kubeconfig: %w", err)
				}
				logf("kube-apiserver ready on %s after %v", base, time.Since(started).Round(time.Millisecond))
				fmt.Fprintf(os.Stdout, "READY %s\n", kubeconfig)
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %v", startBudget)
}

// writeKubeconfig trusts the CA that the apiserver generated next to its
// self-signed serving certificate (certs/apiserver.crt holds the serving cert
// followed by that CA); it falls back to insecure-skip-tls-verify.
func writeKubeconfig(path, servingCert, server, token string) error {
	tlsLine := "    insecure-skip-tls-verify: true"
	if ca := findCA(servingCert); ca != nil {
		tlsLine = "    certificate-authority-data: " + base64.StdEncoding.EncodeToString(ca)
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
%s
users:
- name: %s
  user:
    token: %s
contexts:
- name: e2e
  context:
    cluster: e2e
    user: %s
current-context: e2e
`, server, tlsLine, adminUser, token, adminUser)
	return writeFileAtomic(path, []byte(kc), 0o600)
}

func findCA(certFile string) []byte {
	rest, err := os.ReadFile(certFile)
	if err != nil {
		return nil
	}
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err == nil && c.IsCA {
			return pem.EncodeToMemory(block)
		}
	}
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
