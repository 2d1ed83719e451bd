/* The round-trip workload: a few actions that rules detect, each done once, then exit.
 *
 *   tiercel-rtwork DIR SHM_EXE
 *
 * open /etc/shadow for reading; fork+exec `cat /etc/shadow` (stdout to /dev/null); symlink
 * DIR/shadow-link -> /etc/shadow, then unlink it; fork+exec SHM_EXE (a copy of true in /dev/shm);
 * a loopback TCP connection (listen, connect, accept); create, write and unlink
 * /etc/tiercel-rt-PID.conf. Everything it creates is removed before it exits.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void must(int ok, const char *what) {
    if (!ok) {
        perror(what);
        exit(1);
    }
}

static void spawn(char *const argv[]) {
    pid_t child = fork();
    must(child >= 0, "fork");
    if (child == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    must(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
         argv[0]);
}

static void loopback(void) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    must(srv >= 0 && bind(srv, (struct sockaddr *)&addr, sizeof addr) == 0, "bind");
    must(listen(srv, 1) == 0 && getsockname(srv, (struct sockaddr *)&addr, &len) == 0, "listen");
    int cli = socket(AF_INET, SOCK_STREAM, 0);
    must(cli >= 0 && connect(cli, (struct sockaddr *)&addr, sizeof addr) == 0, "connect");
    int conn = accept(srv, NULL, NULL);
    must(conn >= 0, "accept");
    close(conn);
    close(cli);
    close(srv);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DIR SHM_EXE\n", argv[0]);
        return 2;
    }
    char buf[64];
    int fd = open("/etc/shadow", O_RDONLY);
    must(fd >= 0 && read(fd, buf, sizeof buf) >= 0, "/etc/shadow");
    close(fd);

    char *cat[] = {"/bin/cat", "/etc/shadow", NULL};
    spawn(cat);

    char link[4096];
    snprintf(link, sizeof link, "%s/shadow-link", argv[1]);
    must(symlink("/etc/shadow", link) == 0 && unlink(link) == 0, "symlink");

    char *shm[] = {argv[2], NULL};
    spawn(shm);

    loopback();

    char etc[64];
    snprintf(etc, sizeof etc, "/etc/tiercel-rt-%d.conf", (int)getpid());
    fd = open(etc, O_WRONLY | O_CREAT | O_EXCL, 0600);
    must(fd >= 0 && write(fd, "x\n", 2) == 2, etc);
    close(fd);
    must(unlink(etc) == 0, "unlink");
    return 0;
}
