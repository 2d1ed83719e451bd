/* Connect to 127.0.0.1:PORT N times (each connection closed at once, with a reset so no TIME_WAIT
 * piles up): a connection storm against a local server. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int port = atoi(argv[1]), n = atoi(argv[2]), failed = 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct linger l = {1, 0};
    for (int i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        failed += connect(s, (struct sockaddr *)&a, sizeof(a)) != 0;
        close(s);
    }
    return failed != 0;
}
