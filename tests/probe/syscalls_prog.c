/* Performs each syscall tiercel covers once, with known arguments, for tests/probe/test_live_syscalls.py.
 * Usage: syscalls_prog WORKDIR PORT4 PORT6   (free loopback ports chosen by the test; prints one JSON object with the values the test must find)
 *        syscalls_prog --child ...  (the exec'd child: exits 7)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>

static pid_t thread_tid;

static void *thread_main(void *arg)
{
    thread_tid = gettid();
    close(open("thread.txt", O_WRONLY | O_CREAT, 0600));
    return arg;
}

static int listen_on(int family, int *port)
{
    int s = socket(family, SOCK_STREAM, 0);
    if (family == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(*port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        bind(s, (struct sockaddr *)&a, sizeof(a));
        socklen_t l = sizeof(a);
        getsockname(s, (struct sockaddr *)&a, &l);
        *port = ntohs(a.sin_port);
    } else {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(*port)};
        inet_pton(AF_INET6, "::1", &a.sin6_addr);
        bind(s, (struct sockaddr *)&a, sizeof(a));
        socklen_t l = sizeof(a);
        getsockname(s, (struct sockaddr *)&a, &l);
        *port = ntohs(a.sin6_port);
    }
    listen(s, 4);
    return s;
}

static void connect_to(int family, int port, int listener, int *client_fd, int *accepted_fd, int *cport)
{
    int c = socket(family, SOCK_STREAM, 0);
    struct sockaddr_storage peer;
    socklen_t pl = sizeof(peer);
    if (family == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        connect(c, (struct sockaddr *)&a, sizeof(a));
        *accepted_fd = accept(listener, (struct sockaddr *)&peer, &pl);
        *cport = ntohs(((struct sockaddr_in *)&peer)->sin_port);
    } else {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
        inet_pton(AF_INET6, "::1", &a.sin6_addr);
        connect(c, (struct sockaddr *)&a, sizeof(a));
        *accepted_fd = accept4(listener, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
        *cport = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
    }
    *client_fd = c;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return 7;
    if (argc < 4)
        return 2;
    const char *self = "/proc/self/exe";
    char exe[4096];
    ssize_t n = readlink(self, exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;

    chdir(argv[1]);
    int f_open = syscall(SYS_open, "rel_open.txt", O_WRONLY | O_CREAT | O_TRUNC, 0640);
    int f_openat = openat(AT_FDCWD, "sub_openat.txt", O_RDWR | O_CREAT | O_APPEND, 0600);
    syscall(SYS_mkdir, "dir_mkdir", 0750);
    int dfd = open("dir_mkdir", O_RDONLY | O_DIRECTORY);
    int f_dirfd = openat(dfd, "in_dir.txt", O_WRONLY | O_CREAT, 0644);
    int f_creat = syscall(SYS_creat, "creat.txt", 0600);
    struct open_how how = {.flags = O_RDONLY};
    int f_openat2 = syscall(SYS_openat2, AT_FDCWD, "creat.txt", &how, sizeof(how));
    int f_missing = open("does/not/exist", O_RDONLY);
    int d1 = dup(f_open);
    int d2 = syscall(SYS_dup2, f_open, 40);
    int d3 = dup3(f_open, 41, O_CLOEXEC);
    close(d1);
    close(d2);
    close(d3);

    int port4 = atoi(argv[2]), port6 = atoi(argv[3]), c4, a4, cp4, c6, a6, cp6;
    int l4 = listen_on(AF_INET, &port4);
    int l6 = listen_on(AF_INET6, &port6);
    connect_to(AF_INET, port4, l4, &c4, &a4, &cp4);
    connect_to(AF_INET6, port6, l6, &c6, &a6, &cp6);

    syscall(SYS_unlink, "creat.txt");
    unlinkat(dfd, "in_dir.txt", 0);
    syscall(SYS_rename, "rel_open.txt", "renamed.txt");
    renameat(AT_FDCWD, "renamed.txt", dfd, "renamedat.txt");
    syscall(SYS_renameat2, dfd, "renamedat.txt", AT_FDCWD, "renamed2.txt", 0);
    mkdirat(dfd, "nested", 0700);
    syscall(SYS_rmdir, "dir_mkdir/nested");
    syscall(SYS_symlink, "renamed2.txt", "sym.lnk");
    symlinkat("renamed2.txt", dfd, "symat.lnk");
    syscall(SYS_link, "renamed2.txt", "hard.lnk");
    linkat(AT_FDCWD, "renamed2.txt", dfd, "hardat.lnk", 0);
    syscall(SYS_chmod, "renamed2.txt", 0604);
    fchmod(f_openat, 0640);
    fchmodat(dfd, "hardat.lnk", 0444, 0);
    syscall(SYS_chown, "renamed2.txt", 0, 0);
    syscall(SYS_lchown, "sym.lnk", 0, 0);
    fchown(f_openat, 0, 0);
    fchownat(dfd, "hardat.lnk", 0, 0, 0);
    setgid(0);
    setuid(0);
    setresgid(-1, 0, -1);
    setresuid(-1, 0, -1);
    ptrace(PTRACE_PEEKDATA, 999999999, 0, 0);
    int mfd = memfd_create("tiercel-memfd", MFD_CLOEXEC);
    int nsfd = open("/proc/self/ns/uts", O_RDONLY);
    setns(nsfd, CLONE_NEWUTS);
    unshare(CLONE_NEWNS);
    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL);
    syscall(SYS_mkdir, "mnt", 0700);
    mount("tiercel-tmpfs", "mnt", "tmpfs", 0, "size=1m");
    umount2("mnt", 0);
    fchdir(dfd);
    chdir("..");

    pid_t child = syscall(SYS_fork);
    if (child == 0) {
        char *cargv[] = {exe, "--child", "two words", "it's \"quoted\"", "bad\xff\xfe" "bytes", NULL};
        execve(exe, cargv, environ);
        _exit(99);
    }
    int status = 0;
    waitpid(child, &status, 0);
    pid_t child2 = fork();
    if (child2 == 0) {
        char *cargv[] = {"via-execveat", "--child", NULL};
        syscall(SYS_execveat, AT_FDCWD, exe, cargv, environ, 0);
        _exit(99);
    }
    waitpid(child2, &status, 0);
    pid_t vchild = vfork();
    if (vchild == 0)
        _exit(0);
    pthread_t th;
    pthread_create(&th, NULL, thread_main, NULL);
    pthread_join(th, NULL);

    printf("{\"pid\": %d, \"ppid\": %d, \"exe\": \"%s\", \"f_open\": %d, \"f_openat\": %d, "
           "\"dfd\": %d, \"f_dirfd\": %d, \"f_creat\": %d, \"f_openat2\": %d, \"f_missing\": %d, "
           "\"port4\": %d, \"port6\": %d, \"c4\": %d, \"a4\": %d, \"cport4\": %d, \"c6\": %d, "
           "\"a6\": %d, \"cport6\": %d, \"l4\": %d, \"l6\": %d, \"mfd\": %d, \"nsfd\": %d, "
           "\"child\": %d, \"child2\": %d, \"vchild\": %d, \"thread\": %d, \"child_status\": %d}\n",
           getpid(), getppid(), exe, f_open, f_openat, dfd, f_dirfd, f_creat, f_openat2, f_missing,
           port4, port6, c4, a4, cp4, c6, a6, cp6, l4, l6, mfd, nsfd, child, child2, vchild, thread_tid, WEXITSTATUS(status));
    return 0;
}
