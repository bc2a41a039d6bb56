/* dwprobe: reports what the kernel lets this process do, for the verification suite.
 *   dwprobe socket FAMILY    FAMILY: inet inet6 unix netlink packet raw raw6
 *   dwprobe syscall NAME     NAME: keyctl add_key request_key bpf kexec_load unshare ptrace
 *   dwprobe getifaddrs       lists interfaces through netlink, as glibc and Go programs do
 * Prints "ok" or the errno name and exits 0 when the call succeeded, 1 when it was refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ifaddrs.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(long rc) {
    if (rc >= 0) { puts("ok"); return 0; }
    const char *name = strerrorname_np(errno);
    puts(name ? name : "unknown");
    return 1;
}

static int open_socket(const char *fam) {
    if (!strcmp(fam, "inet")) return report(socket(AF_INET, SOCK_STREAM, 0));
    if (!strcmp(fam, "inet6")) return report(socket(AF_INET6, SOCK_STREAM, 0));
    if (!strcmp(fam, "unix")) return report(socket(AF_UNIX, SOCK_STREAM, 0));
    if (!strcmp(fam, "netlink")) return report(socket(AF_NETLINK, SOCK_RAW, 0));
    if (!strcmp(fam, "packet")) return report(socket(AF_PACKET, SOCK_RAW, htons(3)));
    if (!strcmp(fam, "raw")) return report(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    if (!strcmp(fam, "raw6")) return report(socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
    fprintf(stderr, "unknown family %s\n", fam);
    return 2;
}

static int try_syscall(const char *name) {
    /* Harmless arguments: the question is only whether the filter lets the call through. */
    if (!strcmp(name, "keyctl")) return report(syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0));
    if (!strcmp(name, "add_key")) return report(syscall(SYS_add_key, "user", "dw", "x", 1, -3));
    if (!strcmp(name, "request_key")) return report(syscall(SYS_request_key, "user", "dw", NULL, -3));
    if (!strcmp(name, "bpf")) {
        union bpf_attr attr;
        memset(&attr, 0, sizeof attr);
        return report(syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof attr));
    }
    if (!strcmp(name, "kexec_load")) return report(syscall(SYS_kexec_load, 0, 0, NULL, 0));
    if (!strcmp(name, "unshare")) return report(syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */));
    if (!strcmp(name, "ptrace")) return report(syscall(SYS_ptrace, 0x4206 /* SEIZE */, 1, 0, 0));
    fprintf(stderr, "unknown syscall %s\n", name);
    return 2;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "socket")) return open_socket(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "syscall")) return try_syscall(argv[2]);
    if (argc == 2 && !strcmp(argv[1], "getifaddrs")) {
        struct ifaddrs *list;
        int rc = getifaddrs(&list);
        if (rc == 0) freeifaddrs(list);
        return report(rc);
    }
    fprintf(stderr, "usage: dwprobe socket FAMILY | dwprobe syscall NAME | dwprobe getifaddrs\n");
    return 2;
}
