// Command roundtrip measures what one Go→JS call through jsii costs on this machine (`make bench-explain`):
// a static call returning an object, a property read, and a construct creation, each N times.
package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	n := flag.Int("n", 2000, "calls per kind")
	flag.Parse()
	defer jsii.Close()
	start := time.Now()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(flag.Arg(0))})
	stack := awscdk.NewStack(app, jsii.String("roundtrip"), nil)
	fmt.Printf("first call (jsii kernel start, aws-cdk-lib load): %d ms\n", time.Since(start).Milliseconds())
	measure := func(what string, f func(i int)) {
		f(-1) // warm: the first call of a kind loads its module
		t := time.Now()
		for i := 0; i < *n; i++ {
			f(i)
		}
		fmt.Printf("%-58s %6.0f µs/call (%d calls)\n", what, float64(time.Since(t).Microseconds())/float64(*n), *n)
	}
	measure("static call returning an object (Duration_Seconds)", func(i int) { awscdk.Duration_Seconds(jsii.Number(i + 1)) })
	measure("property read (stack.StackName)", func(int) { stack.StackName() })
	measure("method call on a construct (Node().TryGetContext)", func(int) { stack.Node().TryGetContext(jsii.String("k")) })
	measure("L1 construct creation (CfnWaitConditionHandle)", func(i int) {
		awscdk.NewCfnWaitConditionHandle(stack, jsii.String(fmt.Sprint("H", i)), nil)
	})
}
