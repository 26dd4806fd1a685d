// phonehome: baksmali's deodexer and smali's assembler for many optimized files in one JVM, so that the JVM start,
// class loading and JIT warm-up are paid once per firmware instead of twice per app (deodex.py, class Session).
//
// Run by deodex.py as `java -cp <Debian's baksmali/smali jars> DeodexServer.java` (Java 11+ source launcher).
// Protocol: one job per line on stdin, tab-separated: id, api level, boot class path, odex target, smali folder,
// output DEX. For each job it prints "@@phonehome begin <id>", runs baksmali's and smali's own command-line entry
// points with the same arguments as the commands, and prints "@@phonehome end <id>" (or "@@phonehome error <id>
// <message>" when one throws). Both tools call System.exit on some failures: the JVM then ends before "end",
// which deodex.py reads as that job failing, and it starts a new JVM for the next job.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

public class DeodexServer {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] f = line.split("\t", -1);
            if (f.length != 6) {
                System.out.println("@@phonehome error ? malformed job line");
                continue;
            }
            System.out.println("@@phonehome begin " + f[0]);
            try {
                org.jf.baksmali.Main.main(new String[] {"deodex", "-a", f[1], "-b", f[2], f[3], "-o", f[4]});
                System.err.flush();
                System.out.println("@@phonehome disassembled " + f[0]);
                org.jf.smali.Main.main(new String[] {"assemble", "--api", f[1], f[4], "-o", f[5]});
                System.err.flush();
                System.out.println("@@phonehome end " + f[0]);
            } catch (Throwable t) {
                System.err.flush();
                System.out.println("@@phonehome error " + f[0] + " " + String.valueOf(t).replace('\n', ' '));
            }
            System.out.flush();
        }
    }
}
