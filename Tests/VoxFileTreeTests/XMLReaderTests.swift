import Testing
@testable import VoxFileTree

@Suite struct XMLReaderTests {
    @Test func elementsTextEntitiesAndCDATA() throws {
        let xml = "<?xml version='1.0'?><!-- c --><a:root xmlns:a='x'><b attr=\"1 > 0\">x &lt;&amp;&gt; &#65;&#x42;</b><c/><d><![CDATA[<raw>]]></d></a:root>"
        let root = try XMLReader.parse(Array(xml.utf8))
        #expect(root.name == "root")
        #expect(root.children.map(\.name) == ["b", "c", "d"])
        #expect(root.value("b") == "x <&> AB")
        #expect(root.value("d") == "<raw>")
    }

    @Test func malformedInputIsRefused() {
        let bad = [
            "", "<a>", "<a></b>", "<a>&unknown;</a>", "<a>&#xFFFFFFFF;</a>", "<a></a><b></b>", "text<a/>",
            "<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", "<a attr='x></a>", "<a><b</a>",
            String(repeating: "<a>", count: XMLReader.maxDepth + 1) + String(repeating: "</a>", count: XMLReader.maxDepth + 1),
        ]
        for text in bad {
            #expect(throws: XMLReader.Malformed.self, "\(text.prefix(20))") { try XMLReader.parse(Array(text.utf8)) }
        }
    }
}
