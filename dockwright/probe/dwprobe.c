/* dwprobe: the verification suite's only tool inside a container. Static (musl), no shell and no
 * libraries needed, so its image is this one file and reaches any host by `docker import`.
 *
 *   dwprobe STEP...        runs every step at once, each in its own process, and prints one
 *                          "STEP=RESULT" line per step in the order given. Steps:
 *     socket:FAMILY          inet inet6 unix netlink packet raw raw6      -> ok | errno name
 *     syscall:NAME           keyctl add_key request_key bpf kexec_load unshare ptrace
 *     getifaddrs             an interface dump through netlink, as ip, glibc and Go do
 *     sysctl:NAME            the value this process sees, or MISSING
 *     read:PATH              a file's content (newlines as spaces), or an errno name
 *     nnp                    the no_new_privs bit: 0 or 1
 *     nofile                 RLIMIT_NOFILE as "SOFT HARD"
 *     resolve:NAME           its first IPv4 address through the resolver (/etc/resolv.conf)
 *     fetch:HOST:PORT[:S]    GET / over HTTP/1.0 within S (10) seconds: the body's first line, or why not
 *     ping:HOST              one ICMP echo within 5 s: ok, timeout or an errno name
 *   dwprobe serve PORT [S] answers every HTTP request on PORT with "hello" (for S seconds at most)
 *     stream:HOST:PORT:S    TCP_STREAM for S seconds: "MBIT_PER_S BYTES"
 *     rr:HOST:PORT:S        TCP_RR (1-byte request and answer on one connection) for S seconds:
 *                           "TRANSACTIONS_PER_S P50_US P99_US"
 *     crr:HOST:PORT:S       TCP_CRR (connect, 1-byte request and answer, close) for S seconds:
 *                           "CONNECTIONS_PER_S P50_US P99_US"
 *     burst:HOST:PORT:N     N connections opened at once (non-blocking), each given 5 s:
 *                           "CONNECTED FAILED P99_CONNECT_US"
 *   dwprobe bench PORT [S [ADDR]] the server of stream, rr and crr (the first byte says which), and of
 *                          burst; on ADDR only when given (a host-network server binds the data
 *                          address, not every address); an idle connection is closed after 30 s,
 *                          and a connection the container's pids limit cannot fork for is refused
 *   dwprobe hold PORT [S]  listens on PORT with a backlog of 1 and never accepts (for S seconds at
 *                          most): a listen queue that overflows, for diagnose's e2e test
 *   dwprobe sleep          waits for a signal (a container to exec into or to keep a network busy)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/bpf.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const struct { int no; const char *name; } ERRNOS[] = {
    {EPERM, "EPERM"}, {EACCES, "EACCES"}, {ENOSYS, "ENOSYS"}, {EINVAL, "EINVAL"},
    {ENOENT, "ENOENT"}, {EFAULT, "EFAULT"}, {EAFNOSUPPORT, "EAFNOSUPPORT"},
    {EPROTONOSUPPORT, "EPROTONOSUPPORT"}, {ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT"},
    {EOPNOTSUPP, "EOPNOTSUPP"}, {ECONNREFUSED, "ECONNREFUSED"}, {ECONNRESET, "ECONNRESET"},
    {ETIMEDOUT, "ETIMEDOUT"}, {EHOSTUNREACH, "EHOSTUNREACH"}, {ENETUNREACH, "ENETUNREACH"},
    {ENOKEY, "ENOKEY"}, {EEXIST, "EEXIST"}, {ESRCH, "ESRCH"}, {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"}, {EDQUOT, "EDQUOT"}, {EBADF, "EBADF"}, {EADDRINUSE, "EADDRINUSE"},
};

static const char *errno_name(int no) {
    static char buf[16];
    for (size_t i = 0; i < sizeof ERRNOS / sizeof ERRNOS[0]; i++)
        if (ERRNOS[i].no == no) return ERRNOS[i].name;
    snprintf(buf, sizeof buf, "E%d", no);
    return buf;
}

static void report(long rc) { puts(rc >= 0 ? "ok" : errno_name(errno)); }

static void open_socket(const char *fam) {
    if (!strcmp(fam, "inet")) report(socket(AF_INET, SOCK_STREAM, 0));
    else if (!strcmp(fam, "inet6")) report(socket(AF_INET6, SOCK_STREAM, 0));
    else if (!strcmp(fam, "unix")) report(socket(AF_UNIX, SOCK_STREAM, 0));
    else if (!strcmp(fam, "netlink")) report(socket(AF_NETLINK, SOCK_RAW, 0));
    else if (!strcmp(fam, "packet")) report(socket(AF_PACKET, SOCK_RAW, htons(3)));
    else if (!strcmp(fam, "raw")) report(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    else if (!strcmp(fam, "raw6")) report(socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
    else puts("unknown-family");
}

static void try_syscall(const char *name) {
    /* Harmless arguments: the question is only whether the filter lets the call through. */
    if (!strcmp(name, "keyctl")) report(syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0));
    else if (!strcmp(name, "add_key")) report(syscall(SYS_add_key, "user", "dw", "x", 1, -3));
    else if (!strcmp(name, "request_key")) report(syscall(SYS_request_key, "user", "dw", NULL, -3));
    else if (!strcmp(name, "bpf")) {
        union bpf_attr attr;
        memset(&attr, 0, sizeof attr);
        report(syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof attr));
    } else if (!strcmp(name, "kexec_load")) report(syscall(SYS_kexec_load, 0, 0, NULL, 0));
    else if (!strcmp(name, "unshare")) report(syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */));
    else if (!strcmp(name, "ptrace")) report(syscall(SYS_ptrace, 0x4206 /* SEIZE */, 1, 0, 0));
    else puts("unknown-syscall");
}

static void read_file(const char *path, const char *missing) {
    char buf[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { puts(missing ? missing : errno_name(errno)); return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) { puts(errno_name(errno)); return; }
    buf[n] = 0;
    fputs(buf, stdout);
}

static void read_sysctl(const char *name) {
    char path[256] = "/proc/sys/";
    size_t at = strlen(path);
    for (const char *c = name; *c && at < sizeof path - 1; c++) path[at++] = *c == '.' ? '/' : *c;
    path[at] = 0;
    read_file(path, "MISSING");
}

static int resolve4(const char *host, struct sockaddr_in *out) {
    struct addrinfo hints = {.ai_family = AF_INET}, *res;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) return rc;
    *out = *(struct sockaddr_in *)res->ai_addr;
    freeaddrinfo(res);
    return 0;
}

static long ms_left(struct timespec *end) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
}

static int wait_fd(int fd, short events, struct timespec *end) {
    struct pollfd p = {.fd = fd, .events = events};
    long left = ms_left(end);
    return left > 0 && poll(&p, 1, (int)left) == 1;
}

static void fetch(char *spec) {
    char *port = strchr(spec, ':');
    if (!port) { puts("bad-spec"); return; }
    *port++ = 0;
    char *seconds = strchr(port, ':');
    if (seconds) *seconds++ = 0;
    struct sockaddr_in addr;
    int rc = resolve4(spec, &addr);
    if (rc) { puts("unresolved"); return; }
    addr.sin_port = htons(atoi(port));
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += seconds ? atoi(seconds) : 10;
    /* A server started a moment ago may not listen yet: a refused connection is tried again
       (every 200 ms) until the bound; "ECONNREFUSED" means refused for all of it. */
    int fd, err, refused = 0;
    for (;;) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0) { puts(errno_name(errno)); return; }
        err = connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS ? errno : 0;
        if (!err) {
            /* The bound may run out during a retry: the last answer was still a refusal. */
            if (!wait_fd(fd, POLLOUT, &end)) { puts(refused ? "ECONNREFUSED" : "timeout"); return; }
            socklen_t len = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
        if (err != ECONNREFUSED || ms_left(&end) < 200) break;
        refused = 1;
        close(fd);
        struct timespec pause = {0, 200 * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (err) { puts(errno_name(err)); return; }
    const char req[] = "GET / HTTP/1.0\r\n\r\n";
    if (write(fd, req, sizeof req - 1) < 0) { puts(errno_name(errno)); return; }
    char buf[2048];
    size_t got = 0;
    while (got < sizeof buf - 1 && wait_fd(fd, POLLIN, &end)) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0) break;
        got += n;
    }
    buf[got] = 0;
    char *body = strstr(buf, "\r\n\r\n");
    if (!body) { puts(got ? "no-http" : "timeout"); return; }
    body += 4;
    body[strcspn(body, "\r\n")] = 0;
    puts(body);
}

static unsigned short checksum(void *data, int len) {
    unsigned long sum = 0;
    unsigned short *p = data;
    for (; len > 1; len -= 2) sum += *p++;
    if (len) sum += *(unsigned char *)p;
    sum = (sum >> 16) + (sum & 0xffff);
    return ~(sum + (sum >> 16));
}

static void ping(const char *host) {
    struct sockaddr_in addr;
    if (resolve4(host, &addr)) { puts("unresolved"); return; }
    /* A raw socket where the container has CAP_NET_RAW, else the unprivileged ICMP socket. */
    int raw = 1, fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd < 0) { raw = 0; fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP); }
    if (fd < 0) { puts(errno_name(errno)); return; }
    struct icmphdr req = {.type = ICMP_ECHO};
    req.un.echo.id = htons(getpid() & 0xffff);
    req.un.echo.sequence = htons(1);
    req.checksum = checksum(&req, sizeof req);
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
        puts(errno_name(errno)); return;
    }
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += 5;
    char buf[1500];
    while (wait_fd(fd, POLLIN, &end)) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n <= 0 || from.sin_addr.s_addr != addr.sin_addr.s_addr) continue;
        size_t off = raw ? (size_t)((struct iphdr *)buf)->ihl * 4 : 0;
        if ((size_t)n >= off + sizeof(struct icmphdr) && ((struct icmphdr *)(buf + off))->type == ICMP_ECHOREPLY) {
            puts("ok"); return;
        }
    }
    puts("timeout");
}


/* A TCP socket listening on PORT with BACKLOG (the kernel caps it at the namespace's somaxconn);
   -1, said on stderr, when it cannot be had. */
static int listener_on(const char *who, const char *ip, int port, int backlog) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (ip && inet_pton(AF_INET, ip, &addr.sin_addr) != 1) {
        fprintf(stderr, "%s %d: not an IPv4 address: %s\n", who, port, ip);
        return -1;
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, backlog) < 0) {
        fprintf(stderr, "%s %d: %s\n", who, port, strerror(errno));
        return -1;
    }
    return fd;
}

static int listener(const char *who, int port, int backlog) { return listener_on(who, NULL, port, backlog); }

/* ---- network benchmark (dockwright.netbench): netperf's TCP_STREAM, TCP_RR and TCP_CRR ---- */

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, long n, double p) {
    if (n <= 0) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    long i = (long)(p * (n - 1) + 0.5);
    return v[i];
}

/* HOST:PORT:NUMBER -> address and number; 0 on success. */
static int bench_target(char *spec, struct sockaddr_in *addr, long *number) {
    char *port = strchr(spec, ':');
    if (!port) return -1;
    *port++ = 0;
    char *num = strchr(port, ':');
    if (!num) return -1;
    *num++ = 0;
    if (resolve4(spec, addr)) return -1;
    addr->sin_port = htons(atoi(port));
    *number = atol(num);
    return *number > 0 ? 0 : -1;
}

static int connect_to(struct sockaddr_in *addr, char mode) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0) return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)addr, sizeof *addr) < 0 || write(fd, &mode, 1) != 1) {
        close(fd);
        return -1;
    }
    return fd;
}

#define MAX_SAMPLES 2000000
static double samples[MAX_SAMPLES];

static void bench_client(char kind, char *spec) {
    struct sockaddr_in addr;
    long seconds;
    if (bench_target(spec, &addr, &seconds)) { puts("bad-spec"); return; }
    double start = now_us(), end = start + seconds * 1e6;
    long n = 0;
    char byte = 'x';
    if (kind == 'S') {
        int fd = connect_to(&addr, 'S');
        if (fd < 0) { puts(errno_name(errno)); return; }
        static char buf[65536];
        memset(buf, 'd', sizeof buf);
        double bytes = 0;
        while (now_us() < end) {
            ssize_t w = write(fd, buf, sizeof buf);
            if (w <= 0) break;
            bytes += w;
        }
        shutdown(fd, SHUT_WR);
        (void)!read(fd, &byte, 1);  /* the server's end: everything sent was received */
        close(fd);
        double took = (now_us() - start) / 1e6;
        printf("%.1f %.0f\n", bytes * 8 / took / 1e6, bytes);
        return;
    }
    int fd = kind == 'R' ? connect_to(&addr, 'R') : -1;
    if (kind == 'R' && fd < 0) { puts(errno_name(errno)); return; }
    while (now_us() < end && n < MAX_SAMPLES) {
        double t0 = now_us();
        if (kind == 'C' && (fd = connect_to(&addr, 'C')) < 0) { puts(errno_name(errno)); return; }
        if (write(fd, &byte, 1) != 1 || read(fd, &byte, 1) != 1) { puts("broken"); return; }
        if (kind == 'C') close(fd);
        samples[n++] = now_us() - t0;
    }
    if (kind == 'R') close(fd);
    double took = (now_us() - start) / 1e6;
    double rate = n / took, p50 = percentile(samples, n, 0.50), p99 = percentile(samples, n, 0.99);
    printf("%.1f %.0f %.0f\n", rate, p50, p99);
}

static void burst_client(char *spec) {
    struct sockaddr_in addr;
    long count;
    if (bench_target(spec, &addr, &count) || count > 60000) { puts("bad-spec"); return; }
    struct rlimit r = {count + 64, count + 64};
    setrlimit(RLIMIT_NOFILE, &r);
    int *fds = calloc(count, sizeof *fds);
    double *start = calloc(count, sizeof *start), *took = calloc(count, sizeof *took);
    long connected = 0, failed = 0, waiting = count;
    for (long i = 0; i < count; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        start[i] = now_us();
        if (fds[i] < 0) { failed++; waiting--; continue; }
        if (connect(fds[i], (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
            close(fds[i]);
            fds[i] = -1;
            failed++;
            waiting--;
        }
    }
    double deadline = now_us() + 5e6;
    struct pollfd *p = calloc(count, sizeof *p);
    long *index = calloc(count, sizeof *index);
    while (waiting > 0 && now_us() < deadline) {
        long m = 0;
        for (long i = 0; i < count; i++)
            if (fds[i] >= 0) { p[m].fd = fds[i]; p[m].events = POLLOUT; p[m].revents = 0; index[m++] = i; }
        if (poll(p, m, 100) < 0) break;
        for (long j = 0; j < m; j++) {
            if (!p[j].revents) continue;
            long i = index[j];
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) failed++;
            else took[connected++] = now_us() - start[i];
            close(fds[i]);
            fds[i] = -1;
            waiting--;
        }
    }
    failed += waiting;  /* still not connected after 5 s: a SYN the server dropped */
    printf("%ld %ld %.0f\n", connected, failed, percentile(took, connected, 0.99));
}

static int bench_server(int port, const char *ip) {
    /* The backlog asked is the kernel's maximum: what the namespace's somaxconn allows is used. */
    int fd = listener_on("bench", ip, port, 65535), one = 1;
    if (fd < 0) return 1;
    signal(SIGCHLD, SIG_IGN);
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) continue;
        pid_t child = fork();
        if (child != 0) { close(c); continue; }  /* the parent; or no child (the pids limit): refused */
        /* A peer that stops sending is dropped: no connection holds a process for ever. */
        struct timeval idle = {.tv_sec = 30};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char mode = 0, byte;
        if (read(c, &mode, 1) != 1) _exit(0);
        if (mode == 'S') {
            static char buf[65536];
            while (read(c, buf, sizeof buf) > 0) {}
            (void)!write(c, "e", 1);
        } else {
            while (read(c, &byte, 1) == 1 && write(c, &byte, 1) == 1) {}
        }
        _exit(0);
    }
}

static void step(char *s) {
    char *arg = strchr(s, ':');
    if (arg) *arg++ = 0;
    if (!strcmp(s, "socket") && arg) open_socket(arg);
    else if (!strcmp(s, "syscall") && arg) try_syscall(arg);
    else if (!strcmp(s, "getifaddrs")) {
        struct ifaddrs *list;
        int rc = getifaddrs(&list);
        if (rc == 0) freeifaddrs(list);
        report(rc);
    } else if (!strcmp(s, "sysctl") && arg) read_sysctl(arg);
    else if (!strcmp(s, "read") && arg) read_file(arg, NULL);
    else if (!strcmp(s, "nnp")) printf("%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    else if (!strcmp(s, "nofile")) {
        struct rlimit r;
        getrlimit(RLIMIT_NOFILE, &r);
        printf("%llu %llu\n", (unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max);
    } else if (!strcmp(s, "resolve") && arg) {
        struct sockaddr_in addr;
        int rc = resolve4(arg, &addr);
        puts(rc ? "unresolved" : inet_ntoa(addr.sin_addr));
    } else if (!strcmp(s, "fetch") && arg) fetch(arg);
    else if (!strcmp(s, "ping") && arg) ping(arg);
    else if (!strcmp(s, "stream") && arg) bench_client('S', arg);
    else if (!strcmp(s, "rr") && arg) bench_client('R', arg);
    else if (!strcmp(s, "crr") && arg) bench_client('C', arg);
    else if (!strcmp(s, "burst") && arg) burst_client(arg);
    else puts("unknown-step");
}

static void quit(int sig) { (void)sig; _exit(0); }

static int serve(int port) {
    int fd = listener("serve", port, 64);
    if (fd < 0) return 1;
    const char reply[] = "HTTP/1.0 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n";
    signal(SIGCHLD, SIG_IGN);  /* children are reaped by the kernel */
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) continue;
        /* Each client in a child: a slow one (it may wait 2 s for a request) never holds up
           the others, which have bounds of their own. */
        pid_t child = fork();
        if (child > 0) { close(c); continue; }
        struct timespec end;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += 2;
        char buf[1024];
        if (wait_fd(c, POLLIN, &end)) (void)!read(c, buf, sizeof buf);
        (void)!write(c, reply, sizeof reply - 1);
        close(c);
        if (child == 0) _exit(0);  /* fork failed: served here, in turn */
    }
}

static int hold(int port) {
    if (listener("hold", port, 1) < 0) return 1;
    for (;;) pause();
}

int main(int argc, char **argv) {
    /* As a container's PID 1 the default action of SIGTERM is ignored: exit on it. */
    signal(SIGTERM, quit);
    signal(SIGINT, quit);
    signal(SIGALRM, quit);
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "serve")) {
        if (argc == 4) alarm(atoi(argv[3]));  /* a server left behind by a killed run ends by itself */
        return serve(atoi(argv[2]));
    }
    if (argc >= 3 && argc <= 5 && !strcmp(argv[1], "bench")) {
        if (argc >= 4) alarm(atoi(argv[3]));
        return bench_server(atoi(argv[2]), argc == 5 ? argv[4] : NULL);
    }
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "hold")) {
        if (argc == 4) alarm(atoi(argv[3]));
        return hold(atoi(argv[2]));
    }
    if (argc == 2 && !strcmp(argv[1], "sleep")) for (;;) pause();
    if (argc < 2) {
        fputs("usage: dwprobe STEP... | dwprobe serve|hold PORT [SECONDS] | dwprobe bench PORT [SECONDS [ADDR]] | "
              "dwprobe sleep\n", stderr);
        return 2;
    }
    int n = argc - 1, fds[n];
    pid_t pids[n];
    for (int i = 0; i < n; i++) {
        int p[2];
        if (pipe(p) < 0) return 1;
        fflush(stdout);
        pids[i] = fork();
        if (pids[i] == 0) {
            dup2(p[1], 1);
            close(p[0]);
            char copy[512];
            snprintf(copy, sizeof copy, "%s", argv[i + 1]);
            step(copy);
            fflush(stdout);
            _exit(0);
        }
        close(p[1]);
        fds[i] = p[0];
    }
    /* Each step's output, in order; each is small, so reading in order cannot block a writer for long. */
    for (int i = 0; i < n; i++) {
        char buf[4096];
        size_t got = 0;
        ssize_t r;
        while (got < sizeof buf - 1 && (r = read(fds[i], buf + got, sizeof buf - 1 - got)) > 0) got += r;
        buf[got] = 0;
        while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' ')) buf[--got] = 0;
        for (char *c = buf; *c; c++) if (*c == '\n') *c = ' ';
        waitpid(pids[i], NULL, 0);
        printf("%s=%s\n", argv[i + 1], got ? buf : "no-output");
    }
    return 0;
}
